/**
 * The components pg_cluster_admin acts on, in the order the tool describes them. Adding a component: its file
 * (see ComponentActions in action.ts), its import here and its name in COMPONENTS.
 */
import type { ComponentActions } from './action.js';
import { citusActions } from './citus.js';
import { haproxyActions } from './haproxy.js';
import { patroniActions } from './patroni.js';
import { pgbouncerActions } from './pgbouncer.js';

export const COMPONENTS: readonly ComponentActions[] = [patroniActions, haproxyActions, pgbouncerActions, citusActions];
