/** A head branch in another repository (or in a deleted one) is someone else's code. */
export function isFork(pr: { head: { repo: { full_name: string } | null }; base: { repo: { full_name: string } } }): boolean {
  return pr.head.repo?.full_name !== pr.base.repo.full_name;
}
