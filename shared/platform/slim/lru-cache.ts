/**
 * Stands in for `mnemonist/lru-cache` in the deployed bundles (infra/api-function.ts aliases it
 * here): the DynamoDB client's endpoint-discovery cache needs only these few methods of an LRU
 * cache, which a Map gives in insertion order.
 */
export default class LRUCache<K, V> {
  private readonly entries = new Map<K, V>();
  constructor(private readonly capacity: number) {}
  get(key: K): V | undefined {
    if (!this.entries.has(key)) return undefined;
    const value = this.entries.get(key)!;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }
  peek(key: K): V | undefined {
    return this.entries.get(key);
  }
  has(key: K): boolean {
    return this.entries.has(key);
  }
  set(key: K, value: V): this {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as K);
    return this;
  }
  clear(): void {
    this.entries.clear();
  }
}
