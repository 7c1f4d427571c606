"""Write src/merkle.vectors.json: RFC 6962 vectors computed by services/audit/merkle.py for src/merkle.test.ts.

Run from the repository root: PYTHONPATH=. .venv/bin/python console/scripts/merkle_vectors.py
"""

import json
import pathlib

from services.audit.merkle import MerkleTree, leaf_hash, root
from services.audit.note import Checkpoint, Signer, sign_checkpoint

# The leaves of RFC 6962's reference tests (certificate-transparency's merkle_tree_test), as hex.
LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]

entries = [bytes.fromhex(h) for h in LEAVES]
tree = MerkleTree()
for entry in entries:
    tree.append_entry(entry)
leaves = [leaf_hash(e) for e in entries]
vectors = {
    "leaves": LEAVES,
    "leaf_hashes": [h.hex() for h in leaves],
    "roots": {str(n): root(leaves[:n]).hex() for n in range(1, len(leaves) + 1)},
    "inclusion": [
        {"index": i, "size": n, "proof": [p.hex() for p in tree.inclusion_proof(i, n)]}
        for n in range(1, len(leaves) + 1) for i in range(n)
    ],
    "consistency": [
        {"from": m, "to": n, "proof": [p.hex() for p in tree.consistency_proof(m, n)]}
        for n in range(1, len(leaves) + 1) for m in range(1, n + 1)
    ],
}
# A checkpoint of the 8-leaf tree signed with a fixed test seed (never a real key), and its verifier key.
signer = Signer("relief.test/trail", bytes(range(32)))
vectors["checkpoint"] = {
    "note": sign_checkpoint(Checkpoint("relief.test/trail", 8, root(leaves)), signer),
    "verifier_key": signer.verifier.format(),
}
out = pathlib.Path(__file__).resolve().parent.parent / "src" / "merkle.vectors.json"
out.write_text(json.dumps(vectors, indent=1) + "\n")
print(f"wrote {out}: {len(vectors['inclusion'])} inclusion and {len(vectors['consistency'])} consistency proofs")
