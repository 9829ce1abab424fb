/** A query function bound to one client, i.e. to the caller's transaction. */
export type Query = import("pg").PoolClient["query"];
