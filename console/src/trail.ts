/**
 * Check a case's history from the trail in the browser: every entry's inclusion proof against the root of the
 * signed checkpoint the history came with, and, from the case bundle (auditors), that each entry's bytes hash
 * to its leaf and that the checkpoint's signature verifies.
 */
import type { Bundle, CaseHistory } from "./api/types";
import { ed25519Supported, parseCheckpoint, verifySignature, type Checkpoint } from "./checkpoint";
import { bytesToHex, hexToBytes, leafHash, verifyInclusion } from "./merkle";

export type Mark = "verified" | "failed" | "pending";

export interface Verification {
  checkpoint: Checkpoint | null;
  problem: string | null; // why nothing could be checked
  marks: Map<number, Mark>; // by log index
  entryHashes: Map<number, boolean>; // entry bytes → leaf, where the bundle gave them
  signature: boolean | null; // null: not checked
}

export async function verifyHistory(history: CaseHistory, bundle?: Bundle | null): Promise<Verification> {
  const marks = new Map<number, Mark>();
  const entryHashes = new Map<number, boolean>();
  const result: Verification = { checkpoint: null, problem: null, marks, entryHashes, signature: null };
  for (const e of history.events) marks.set(e.index, "pending");
  if (!history.checkpoint) {
    result.problem = "no checkpoint";
    return result;
  }
  let checkpoint: Checkpoint;
  try {
    checkpoint = parseCheckpoint(history.checkpoint);
  } catch (e) {
    result.problem = e instanceof Error ? e.message : String(e);
    for (const e2 of history.events) marks.set(e2.index, "failed");
    return result;
  }
  result.checkpoint = checkpoint;
  if (checkpoint.size !== history.size) {
    result.problem = `checkpoint size ${checkpoint.size} ≠ ${history.size}`;
  }
  if (bundle && bundle.checkpoint === history.checkpoint) {
    const encoder = new TextEncoder();
    for (const entry of bundle.entries) {
      entryHashes.set(entry.index, bytesToHex(await leafHash(encoder.encode(entry.entry))) === entry.leaf_hash);
    }
    if (await ed25519Supported()) {
      try {
        result.signature = await verifySignature(checkpoint, bundle.verifier_key);
      } catch {
        result.signature = false;
      }
    }
  }
  for (const e of history.events) {
    if (e.inclusion === null || e.index >= checkpoint.size) continue; // after the checkpoint: the next one proves it
    let ok = false;
    try {
      ok = await verifyInclusion(hexToBytes(e.leaf_hash), e.index, checkpoint.size, e.inclusion.map(hexToBytes), checkpoint.root);
    } catch {
      ok = false;
    }
    if (entryHashes.has(e.index) && !entryHashes.get(e.index)) ok = false;
    marks.set(e.index, ok && checkpoint.size === history.size ? "verified" : "failed");
  }
  return result;
}
