/**
 * The GitHub surfaces of one preview a run writes. Among states of the same rank they
 * go in this order: the check run first, so the comment can link to it.
 */
export type Surface = "check" | "deployment" | "comment";
const ORDER: readonly Surface[] = ["check", "deployment", "comment"];

export interface WantedState {
  /** A state a person waits for (the run's last word on this surface): it goes ahead of intermediate ones. */
  final: boolean;
  /** Writes the state. It runs only when its turn comes, so it renders what is known then. */
  send: () => Promise<void>;
}

/**
 * The writes of one run, sent one at a time beside the run's Fly work rather than
 * before it: GitHub's write lane (one write a second per installation) must never
 * hold up flyctl. Each surface holds only its newest wanted state, so a state still
 * waiting when a newer one comes is never sent; a final state goes ahead of
 * intermediate ones. Creates that a newer state makes pointless fold in the states'
 * own `send` (a check run first written as completed is created completed).
 *
 * The first failed write stops the writer: later states are dropped and `flush`
 * throws that error, so the run fails (and the pool retries it) as when it wrote
 * GitHub itself.
 */
export class SurfaceWriter {
  private readonly pending = new Map<Surface, WantedState>();
  private sending?: Promise<void>;
  private failure?: { error: unknown };

  want(surface: Surface, state: WantedState): void {
    if (this.failure) return;
    this.pending.set(surface, state);
    this.sending ??= this.drain();
  }

  /** Forgets the state still waiting for a surface: nothing this run knows is worth saying there. */
  drop(surface: Surface): void {
    this.pending.delete(surface);
  }

  /** Whether `error` is the write that stopped this writer. */
  failed(error: unknown): boolean {
    return this.failure !== undefined && this.failure.error === error;
  }

  /** Resolves once every wanted state is written; throws the first failed write. */
  async flush(): Promise<void> {
    while (this.sending) await this.sending;
    if (this.failure) throw this.failure.error;
  }

  /**
   * For a run that stops without a last word (shutdown, lost lease): drops what waits
   * and lets the write under way finish, so nothing reaches GitHub after the run has
   * let go of the preview.
   */
  async stop(): Promise<void> {
    this.pending.clear();
    while (this.sending) await this.sending;
  }

  private next(): WantedState | undefined {
    const ranked = ORDER.filter((s) => this.pending.has(s)).sort(
      (a, b) => Number(this.pending.get(b)!.final) - Number(this.pending.get(a)!.final),
    );
    const surface = ranked[0];
    if (!surface) return undefined;
    const state = this.pending.get(surface)!;
    this.pending.delete(surface);
    return state;
  }

  // The first state is sent at once: `want` has just set it, so the loop awaits a send
  // (and `sending` is set) before it can end and clear `sending`.
  private async drain(): Promise<void> {
    try {
      for (let state = this.next(); state; state = this.next()) await state.send();
    } catch (error) {
      this.failure = { error };
      this.pending.clear();
    } finally {
      this.sending = undefined;
    }
  }
}
