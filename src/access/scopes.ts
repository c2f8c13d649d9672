export const SCOPES = [
  'uploads:read',
  'uploads:write',
  'parts:read',
  'parts:write',
  'files:read',
  'files:write',
  'webhooks:write',
  'admin',
] as const;

export type Scope = (typeof SCOPES)[number];

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

/** `admin` implies every other scope. */
export function grants(held: readonly string[], needed: Scope): boolean {
  return held.includes('admin') || held.includes(needed);
}
