/**
 * Roles and the commands each may call, read from the contract's COMMANDS table (the one
 * place roles are declared; ConsoleApi.handle enforces the same table for every transport).
 * Accounts have one of the four roles; a caller may also be the `viewer`, the local console
 * viewed without sign-in, which reads and changes nothing (and is never remote).
 */
import { ALL_ROLES, COMMANDS, COMMAND_NAMES, RoleSchema, type CallerRole, type CommandName, type Role } from '../../src-preload/contract';

export { ALL_ROLES };
export type { CallerRole, Role };

/** The account roles and the viewer, in the order the role matrix lists them. */
export const ALL_CALLER_ROLES: readonly CallerRole[] = Object.freeze([...ALL_ROLES, 'viewer']);

/** What each role is for, in words for the user list and the UI. */
export const ROLE_TITLES: Readonly<Record<CallerRole, string>> = Object.freeze({
  operator: 'Operator: watches the plant, acknowledges alarms',
  maintenance: 'Maintenance: changes setpoints, applies recommendations and updates',
  admin: 'Administrator: everything maintenance may, plus accounts',
  'supplier-support': 'Supplier support: views the plant, only in a session the plant granted',
  viewer: 'Viewer: the local console without sign-in; sees the plant, changes nothing',
});

/** True for one of the four account roles (never the viewer). */
export function isRole(value: unknown): value is Role {
  return RoleSchema.safeParse(value).success;
}

/** The roles allowed to call `command` (none for an unknown command). */
export function rolesFor(command: string): readonly CallerRole[] {
  return Object.hasOwn(COMMANDS, command) ? COMMANDS[command as CommandName].roles : [];
}

/** True when `role` may call `command`. */
export function mayCall(role: CallerRole, command: string): boolean {
  return rolesFor(command).includes(role);
}

/** The commands `role` may call, in contract order. */
export function commandsFor(role: CallerRole): CommandName[] {
  return COMMAND_NAMES.filter((name) => mayCall(role, name));
}

/** The whole table: role → commands (for an admin screen or documentation). */
export function roleMatrix(): Record<CallerRole, CommandName[]> {
  return Object.fromEntries(ALL_CALLER_ROLES.map((r) => [r, commandsFor(r)])) as Record<CallerRole, CommandName[]>;
}
