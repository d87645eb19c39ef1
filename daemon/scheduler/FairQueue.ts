/**
 * The scheduler's waiting requests, kept per client so that one client's backlog cannot make the
 * others wait behind all of it. Within a priority, the next request comes from the client with the
 * fewest requests running; among those, from the one whose turn came longest ago (a client new to
 * the queue counts as never served), then the oldest request. That is round-robin between clients
 * with work waiting, and a client's own requests stay in arrival order.
 *
 * Each choice looks at every client once: O(clients) per dispatch, O(1) per arrival.
 */

interface Waiting<Item> {
  item: Item;
  /** Arrival order across all clients: breaks the last tie. */
  arrival: number;
}

interface ClientLoad<Item, Priority extends string> {
  waiting: Map<Priority, Waiting<Item>[]>;
  waitingCount: number;
  running: number;
  /** When this client was last given a turn (-1: not since it had nothing queued or running). */
  lastTurn: number;
}

export class FairQueue<Item, Priority extends string> {
  /** Only clients with something waiting or running: a client that leaves leaves nothing behind. */
  private readonly clients = new Map<string, ClientLoad<Item, Priority>>();
  private arrivals = 0;
  private turns = 0;
  private waitingTotal = 0;

  /** Requests waiting, all clients and priorities together. */
  get size(): number {
    return this.waitingTotal;
  }

  /** Requests of `client` waiting or running: what its share of the queue is measured against. */
  heldBy(client: string): number {
    const load = this.clients.get(client);
    return load === undefined ? 0 : load.waitingCount + load.running;
  }

  push(item: Item, client: string, priority: Priority): void {
    const load = this.loadOf(client);
    const lane = load.waiting.get(priority);
    const entry = { item, arrival: this.arrivals++ };
    if (lane === undefined) load.waiting.set(priority, [entry]);
    else lane.push(entry);
    load.waitingCount += 1;
    this.waitingTotal += 1;
  }

  /** Takes a waiting item out (cancelled, past its deadline); false when it was not waiting. */
  remove(item: Item, client: string, priority: Priority): boolean {
    const load = this.clients.get(client);
    const lane = load?.waiting.get(priority);
    const index = lane?.findIndex((entry) => entry.item === item) ?? -1;
    if (load === undefined || lane === undefined || index < 0) return false;
    lane.splice(index, 1);
    load.waitingCount -= 1;
    this.waitingTotal -= 1;
    this.forgetIfIdle(client, load);
    return true;
  }

  /**
   * Takes the next item of the first priority in `priorities` that has one waiting, by the rule
   * above, and counts it as running for its client until `ended` is called.
   */
  take(priorities: readonly Priority[]): Item | undefined {
    for (const priority of priorities) {
      let chosen: { load: ClientLoad<Item, Priority>; lane: Waiting<Item>[] } | undefined;
      for (const load of this.clients.values()) {
        const lane = load.waiting.get(priority);
        if (lane === undefined || lane.length === 0) continue;
        if (chosen === undefined || goesBefore(load, lane, chosen.load, chosen.lane)) chosen = { load, lane };
      }
      if (chosen === undefined) continue;
      const entry = chosen.lane.shift() as Waiting<Item>;
      chosen.load.waitingCount -= 1;
      chosen.load.running += 1;
      chosen.load.lastTurn = this.turns++;
      this.waitingTotal -= 1;
      return entry.item;
    }
    return undefined;
  }

  /** An item taken for `client` stopped running. */
  ended(client: string): void {
    const load = this.clients.get(client);
    if (load === undefined || load.running === 0) return;
    load.running -= 1;
    this.forgetIfIdle(client, load);
  }

  /** Every waiting item (shutdown ends them all). */
  waitingItems(): Item[] {
    return [...this.clients.values()].flatMap((load) =>
      [...load.waiting.values()].flatMap((lane) => lane.map((entry) => entry.item)),
    );
  }

  private loadOf(client: string): ClientLoad<Item, Priority> {
    let load = this.clients.get(client);
    if (load === undefined) {
      load = { waiting: new Map(), waitingCount: 0, running: 0, lastTurn: -1 };
      this.clients.set(client, load);
    }
    return load;
  }

  private forgetIfIdle(client: string, load: ClientLoad<Item, Priority>): void {
    if (load.waitingCount === 0 && load.running === 0) this.clients.delete(client);
  }
}

function goesBefore<Item, Priority extends string>(
  load: ClientLoad<Item, Priority>,
  lane: Waiting<Item>[],
  other: ClientLoad<Item, Priority>,
  otherLane: Waiting<Item>[],
): boolean {
  if (load.running !== other.running) return load.running < other.running;
  if (load.lastTurn !== other.lastTurn) return load.lastTurn < other.lastTurn;
  return (lane[0] as Waiting<Item>).arrival < (otherLane[0] as Waiting<Item>).arrival;
}
