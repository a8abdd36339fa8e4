// A wrapped binding with the KV namespace API that answers from memory at once:
// every key is absent (single and bulk reads). It stands in for DENYLIST when
// measuring what the KV round trip of the revocation check costs (the worker's own
// check code still runs).
export default function () {
  return {
    async get(key) {
      // A bulk read (an array of keys) answers a Map, as Workers KV does.
      return Array.isArray(key) ? new Map(key.map((k) => [k, null])) : null;
    },
    async getWithMetadata() {
      return { value: null, metadata: null };
    },
    async put() {},
    async delete() {},
    async list() {
      return { keys: [], list_complete: true };
    },
  };
}
