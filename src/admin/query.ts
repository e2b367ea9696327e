// Query parameters of the admin endpoints: how they are read, and how a bad one becomes a 400
// that names it (the same for /debug/* and the dashboard's /ui/api/*).
import type { FastifyReply } from 'fastify';

export type Query = Record<string, string | string[] | undefined>;

/** A query parameter that cannot be used; its message is the 400's `error`. */
export class BadQuery extends Error {}

/** The values of a query parameter given once or more (each may also list values split by commas). */
export function values(query: Query, name: string, commas: boolean): string[] | undefined {
  const raw = query[name];
  if (raw === undefined) return undefined;
  const given = typeof raw === 'string' ? [raw] : raw;
  return commas ? given.flatMap((value) => value.split(',')) : given;
}

/** The query parsed by `parse`, or undefined once a 400 naming the bad parameter is sent. */
export function parseQuery<T>(reply: FastifyReply, parse: () => T): T | undefined {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof BadQuery)) throw error;
    void reply.code(400).send({ error: error.message });
    return undefined;
  }
}
