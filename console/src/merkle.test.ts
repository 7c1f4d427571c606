import { describe, expect, it } from "vitest";
import { parseCheckpoint, verifySignature } from "./checkpoint";
import { bytesToHex, hexToBytes, leafHash, rootOf, verifyConsistency, verifyInclusion } from "./merkle";
import vectors from "./merkle.vectors.json";

// Vectors computed by services/audit/merkle.py (console/scripts/merkle_vectors.py) over RFC 6962's test leaves.
const leaves = vectors.leaf_hashes.map(hexToBytes);
const roots = vectors.roots as Record<string, string>;
const rootAt = (n: number) => hexToBytes(roots[String(n)]);
const flip = (bytes: Uint8Array) => Uint8Array.from(bytes, (b, i) => (i === 0 ? b ^ 1 : b));

describe("RFC 6962 hashes", () => {
  it("hashes each leaf as SHA-256(0x00 ‖ entry)", async () => {
    for (const [i, hex] of vectors.leaves.entries()) {
      expect(bytesToHex(await leafHash(hexToBytes(hex)))).toBe(vectors.leaf_hashes[i]);
    }
  });

  it("computes the same roots as the trail, for every size up to 8", async () => {
    for (let n = 1; n <= leaves.length; n++) expect(bytesToHex(await rootOf(leaves.slice(0, n)))).toBe(roots[n]);
    expect(roots["8"]).toBe("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");
  });
});

describe("inclusion proofs", () => {
  it("accepts every proof the trail gives", async () => {
    for (const { index, size, proof } of vectors.inclusion) {
      expect(await verifyInclusion(leaves[index], index, size, proof.map(hexToBytes), rootAt(size))).toBe(true);
    }
  });

  it("refuses a tampered leaf, proof, root, index or size", async () => {
    for (const { index, size, proof } of vectors.inclusion.filter((v) => v.size > 1)) {
      const hashes = proof.map(hexToBytes);
      const root = rootAt(size);
      expect(await verifyInclusion(flip(leaves[index]), index, size, hashes, root)).toBe(false);
      expect(await verifyInclusion(leaves[index], index, size, [flip(hashes[0]), ...hashes.slice(1)], root)).toBe(false);
      expect(await verifyInclusion(leaves[index], index, size, hashes, flip(root))).toBe(false);
      expect(await verifyInclusion(leaves[index], (index + 1) % size, size, hashes, root)).toBe(false);
      if (size < 8) expect(await verifyInclusion(leaves[index], index, size + 1, hashes, rootAt(size + 1))).toBe(false);
      expect(await verifyInclusion(leaves[index], index, size, hashes.slice(0, -1), root)).toBe(false);
      expect(await verifyInclusion(leaves[index], index, size, [...hashes, hashes[0]], root)).toBe(false);
    }
    expect(await verifyInclusion(leaves[0], 1, 1, [], rootAt(1))).toBe(false);
  });
});

describe("consistency proofs", () => {
  it("accepts every proof the trail gives", async () => {
    for (const { from, to, proof } of vectors.consistency) {
      expect(await verifyConsistency(from, to, rootAt(from), rootAt(to), proof.map(hexToBytes))).toBe(true);
    }
  });

  it("refuses a proof against a different old or new root, or a tampered hash", async () => {
    for (const { from, to, proof } of vectors.consistency.filter((v) => v.from < v.to)) {
      const hashes = proof.map(hexToBytes);
      expect(await verifyConsistency(from, to, flip(rootAt(from)), rootAt(to), hashes)).toBe(false);
      expect(await verifyConsistency(from, to, rootAt(from), flip(rootAt(to)), hashes)).toBe(false);
      expect(await verifyConsistency(from, to, rootAt(from), rootAt(to), hashes.map(flip))).toBe(false);
      expect(await verifyConsistency(from, to, rootAt(from), rootAt(to), [])).toBe(false);
    }
    expect(await verifyConsistency(0, 3, rootAt(1), rootAt(3), [])).toBe(false);
  });
});

describe("signed checkpoints", () => {
  it("reads origin, size and root, and checks the Ed25519 signature", async () => {
    const checkpoint = parseCheckpoint(vectors.checkpoint.note);
    expect(checkpoint.origin).toBe("relief.test/trail");
    expect(checkpoint.size).toBe(8);
    expect(checkpoint.rootHex).toBe(roots["8"]);
    expect(await verifySignature(checkpoint, vectors.checkpoint.verifier_key)).toBe(true);
  });

  it("refuses a note whose text was changed after signing", async () => {
    const forged = vectors.checkpoint.note.replace("\n8\n", "\n9\n");
    expect(await verifySignature(parseCheckpoint(forged), vectors.checkpoint.verifier_key)).toBe(false);
    expect(() => parseCheckpoint("relief.test/trail\n8\n")).toThrow();
  });
});
