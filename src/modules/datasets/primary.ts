/**
 * The "exactly one primary among a revision's active links" rules, as pure decisions over the
 * revision's active links (newest first). The service applies them while holding the revision's
 * row lock; the unique partial index catches anything that slips past.
 */
export interface ActiveLink {
  id: string;
  upload_id: string;
  filename: string;
  is_primary: boolean;
}

export interface AttachPlan {
  /** Active links showing the same filename: the new upload replaces them. */
  superseded: string[];
  newIsPrimary: boolean;
  /** When the new link is not primary and the primary was superseded: the newest remaining link. */
  promote: string | null;
}

export function planAttach(active: ActiveLink[], filename: string, wantPrimary: boolean | undefined): AttachPlan {
  const superseded = active.filter((l) => l.filename === filename).map((l) => l.id);
  const remaining = active.filter((l) => l.filename !== filename);
  const primaryRemains = remaining.some((l) => l.is_primary);
  // The first link is primary whatever was asked: a revision with links always has one.
  const newIsPrimary = remaining.length === 0 || wantPrimary === true || (!primaryRemains && wantPrimary !== false);
  const promote = !newIsPrimary && !primaryRemains ? remaining[0].id : null;
  return { superseded, newIsPrimary, promote };
}
