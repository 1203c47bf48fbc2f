/**
 * Many shared holders at once, or one exclusive holder: saves share, a rebuild of the catalog or a
 * retention run takes it alone (and waits for the saves under way to finish).
 */
export class SharedExclusive {
  private active = 0;
  private gate: Promise<void> | null = null;
  private idleWaiters: (() => void)[] = [];

  async shared<T>(work: () => Promise<T>): Promise<T> {
    while (this.gate) await this.gate;
    this.active++;
    try {
      return await work();
    } finally {
      this.active--;
      if (this.active === 0) this.idleWaiters.splice(0).forEach((wake) => wake());
    }
  }

  async exclusive<T>(work: () => Promise<T>): Promise<T> {
    while (this.gate) await this.gate;
    let open!: () => void;
    this.gate = new Promise<void>((resolve) => (open = resolve));
    try {
      while (this.active > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      return await work();
    } finally {
      this.gate = null;
      open();
    }
  }

  get isExclusive(): boolean {
    return this.gate !== null;
  }
}
