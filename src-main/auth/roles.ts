/**
 * Roles and the commands each may call, read from the contract's COMMANDS table (the one
 * place roles are declared; ConsoleApi.handle enforces the same table for every transport).
 */
import { ALL_ROLES, COMMANDS, COMMAND_NAMES, RoleSchema, type CommandName, type Role } from '../../src-preload/contract';

export { ALL_ROLES };
export type { Role };

/** What each role is for, in words for the user list and the UI. */
export const ROLE_TITLES: Readonly<Record<Role, string>> = Object.freeze({
  operator: 'Operator: watches the plant, acknowledges alarms',
  maintenance: 'Maintenance: changes setpoints, applies recommendations and updates',
  admin: 'Administrator: everything maintenance may, plus accounts',
  'supplier-support': 'Supplier support: views the plant, only in a session the plant granted',
});

/** True for one of the four roles. */
export function isRole(value: unknown): value is Role {
  return RoleSchema.safeParse(value).success;
}

/** The roles allowed to call `command` (none for an unknown command). */
export function rolesFor(command: string): readonly Role[] {
  return Object.hasOwn(COMMANDS, command) ? COMMANDS[command as CommandName].roles : [];
}

/** True when `role` may call `command`. */
export function mayCall(role: Role, command: string): boolean {
  return rolesFor(command).includes(role);
}

/** The commands `role` may call, in contract order. */
export function commandsFor(role: Role): CommandName[] {
  return COMMAND_NAMES.filter((name) => mayCall(role, name));
}

/** The whole table: role → commands (for an admin screen or documentation). */
export function roleMatrix(): Record<Role, CommandName[]> {
  return Object.fromEntries(ALL_ROLES.map((r) => [r, commandsFor(r)])) as Record<Role, CommandName[]>;
}
