/** Who a request acts for: every read and write is scoped to `orgId`. */
export interface Caller {
  orgId: string;
  /** The API key that made the request; null for work the server does on its own. */
  keyId: string | null;
}

/** An authenticated caller with what its key may do. */
export interface Principal extends Caller {
  keyId: string;
  /** The key's label, named as the editor of what it writes. */
  keyLabel: string | null;
  scopes: string[];
}
