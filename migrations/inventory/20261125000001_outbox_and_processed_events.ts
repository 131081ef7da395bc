import { baseTablesMigration } from '@delivery/common';

export const { up, down } = baseTablesMigration;
