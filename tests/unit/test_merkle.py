"""Tests for services/audit/merkle.py: RFC 6962 / RFC 9162 hashing, proofs and C2SP tlog-tiles.

Reference values are copied from transparency-dev/merkle (commit 417fb0c3): ``testonly/constants.go``
(leaf inputs, node hashes, roots for sizes 0..8), ``testonly/reference_test.go`` (inclusion and consistency
proofs) and the verifier probes in ``testdata/inclusion`` and ``testdata/consistency`` (happy paths, the
``additional`` and ``single-entry`` cases, and every mutation of case 2). Tile paths follow the examples in
https://c2sp.org/tlog-tiles.
"""

from __future__ import annotations

import base64
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.audit.merkle import (
    EMPTY_ROOT,
    MAX_ENTRY_SIZE,
    MemoryNodeStore,
    MerkleTree,
    decode_entry_bundle,
    encode_entry_bundle,
    entries_path,
    leaf_hash,
    node_hash,
    root,
    tile_path,
    tile_width,
    tiles_for_size,
    verify_consistency,
    verify_inclusion,
)

# --- transparency-dev/merkle testonly/constants.go ----------------------------------------------------------

LEAF_INPUTS = [
    bytes.fromhex(h)
    for h in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")
]

NODE_HASHES = [
    [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
        "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
        "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
        "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    ],
    [
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    ],
    [
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
    ["5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"],
]

ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

# --- transparency-dev/merkle testonly/reference_test.go -----------------------------------------------------

REF_INCLUSION = [  # (index, size, proof)
    (0, 1, []),
    (0, 2, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"]),
    (1, 2, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

REF_CONSISTENCY = [  # (size1, size2, proof)
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]

# --- transparency-dev/merkle testdata/inclusion and testdata/consistency probes ---

# (leaf_index, tree_size, leaf_hash, proof, root, valid)
INCLUSION_PROBES: list[tuple[int, int, str, list[str], str, bool]] = [
    (  # inclusion/0/happy-path
        0,
        1,
        "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=",
        [],
        "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=",
        True,
    ),
    (  # inclusion/1/happy-path
        0,
        8,
        "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=",
        [
            "lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=",
            "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
            "a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ=",
        ],
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        True,
    ),
    (  # inclusion/2/empty-root
        5,
        8,
        "QnGia+DYqE8L1UyMMC58s6O10fpngKQLzOKHNHfatlg=",
        [
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        False,
    ),
    (  # inclusion/2/happy-path
        5,
        8,
        "QnGia+DYqE8L1UyMMC58s6O10fpngKQLzOKHNHfatlg=",
        [
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        True,
    ),
    (  # inclusion/2/inserted-component
        5,
        8,
        "QnGia+DYqE8L1UyMMC58s6O10fpngKQLzOKHNHfatlg=",
        [
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
            "q6yroAAAAAAAAAAAAAAAAAAAAAAAAAAAAGAGHgASNFY=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        False,
    ),
    (  # inclusion/2/leafIdx-XOR-@2
        7,
        8,
        "QnGia+DYqE8L1UyMMC58s6O10fpngKQLzOKHNHfatlg=",
        [
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        False,
    ),
    (  # inclusion/2/leafIdx-plus-@1
        6,
        8,
        "QnGia+DYqE8L1UyMMC58s6O10fpngKQLzOKHNHfatlg=",
        [
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        False,
    ),
    (  # inclusion/2/leafIdx-sub-@1
        4,
        8,
        "QnGia+DYqE8L1UyMMC58s6O10fpngKQLzOKHNHfatlg=",
        [
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        False,
    ),
    (  # inclusion/2/modified-proof[0]-bit-@3
        5,
        8,
        "QnGia+DYqE8L1UyMMC58s6O10fpngKQLzOKHNHfatlg=",
        [
            "tBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        False,
    ),
    (  # inclusion/2/modified-proof[1]-bit-@3
        5,
        8,
        "QnGia+DYqE8L1UyMMC58s6O10fpngKQLzOKHNHfatlg=",
        [
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
            "woVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        False,
    ),
    (  # inclusion/2/modified-proof[2]-bit-@3
        5,
        8,
        "QnGia+DYqE8L1UyMMC58s6O10fpngKQLzOKHNHfatlg=",
        [
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "237kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        False,
    ),
    (  # inclusion/2/preceding-garbage
        5,
        8,
        "QnGia+DYqE8L1UyMMC58s6O10fpngKQLzOKHNHfatlg=",
        [
            "",
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        False,
    ),
    (  # inclusion/2/preceding-root
        5,
        8,
        "QnGia+DYqE8L1UyMMC58s6O10fpngKQLzOKHNHfatlg=",
        [
            "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        False,
    ),
    (  # inclusion/2/random-root
        5,
        8,
        "QnGia+DYqE8L1UyMMC58s6O10fpngKQLzOKHNHfatlg=",
        [
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        "q6yroAAAAAAAAAAAAAAAAAAAAAAAAAAAAGAGHgASNFY=",
        False,
    ),
    (  # inclusion/2/removed-component
        5,
        8,
        "QnGia+DYqE8L1UyMMC58s6O10fpngKQLzOKHNHfatlg=",
        [
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
        ],
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        False,
    ),
    (  # inclusion/2/trailing-garbage
        5,
        8,
        "QnGia+DYqE8L1UyMMC58s6O10fpngKQLzOKHNHfatlg=",
        [
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
            "",
        ],
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        False,
    ),
    (  # inclusion/2/trailing-root
        5,
        8,
        "QnGia+DYqE8L1UyMMC58s6O10fpngKQLzOKHNHfatlg=",
        [
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
            "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        ],
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        False,
    ),
    (  # inclusion/2/treeSize-div-@2
        5,
        4,
        "QnGia+DYqE8L1UyMMC58s6O10fpngKQLzOKHNHfatlg=",
        [
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        False,
    ),
    (  # inclusion/2/treeSize-mul-@2
        5,
        16,
        "QnGia+DYqE8L1UyMMC58s6O10fpngKQLzOKHNHfatlg=",
        [
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        False,
    ),
    (  # inclusion/2/wrong-leaf
        5,
        8,
        "V3JvbmdMZWFm",
        [
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        False,
    ),
    (  # inclusion/3/happy-path
        2,
        3,
        "ApjRIpBtz8EIkstTpzmS/FufST6kybrbJ7eRtBJ6f+c=",
        [
            "+sVCA+fMaWzw38tCySodnbr3CtnmIfS9jZhmLwDjwSU=",
        ],
        "rra8/idLcKFPsGel5VeCZNsPqbUa9eC6FZFY8yngbnc=",
        True,
    ),
    (  # inclusion/4/happy-path
        1,
        5,
        "lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=",
        [
            "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=",
            "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
        ],
        "Tju7H3tHjc/nH7YxYxUZo7yhLJrvyhYSv85ME6hiZNQ=",
        True,
    ),
    (  # inclusion/additional/0/empty-root-and-random-leaf
        0,
        0,
        "q6yroAAAAAAAAAAAAAAAAAAAAAAAAAAAAGAGHgASNFY=",
        [],
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        False,
    ),
    (  # inclusion/additional/0/empty-root
        0,
        0,
        "",
        [],
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        False,
    ),
    (  # inclusion/additional/0/random-leaf
        0,
        0,
        "q6yroAAAAAAAAAAAAAAAAAAAAAAAAAAAAGAGHgASNFY=",
        [],
        "",
        False,
    ),
    (  # inclusion/additional/1/empty-root-and-random-leaf
        0,
        1,
        "q6yroAAAAAAAAAAAAAAAAAAAAAAAAAAAAGAGHgASNFY=",
        [],
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        False,
    ),
    (  # inclusion/additional/1/empty-root
        0,
        1,
        "",
        [],
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        False,
    ),
    (  # inclusion/additional/1/random-leaf
        0,
        1,
        "q6yroAAAAAAAAAAAAAAAAAAAAAAAAAAAAGAGHgASNFY=",
        [],
        "",
        False,
    ),
    (  # inclusion/additional/2/empty-root-and-random-leaf
        1,
        0,
        "q6yroAAAAAAAAAAAAAAAAAAAAAAAAAAAAGAGHgASNFY=",
        [],
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        False,
    ),
    (  # inclusion/additional/2/empty-root
        1,
        0,
        "",
        [],
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        False,
    ),
    (  # inclusion/additional/2/random-leaf
        1,
        0,
        "q6yroAAAAAAAAAAAAAAAAAAAAAAAAAAAAGAGHgASNFY=",
        [],
        "",
        False,
    ),
    (  # inclusion/additional/3/empty-root-and-random-leaf
        2,
        1,
        "q6yroAAAAAAAAAAAAAAAAAAAAAAAAAAAAGAGHgASNFY=",
        [],
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        False,
    ),
    (  # inclusion/additional/3/empty-root
        2,
        1,
        "",
        [],
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        False,
    ),
    (  # inclusion/additional/3/random-leaf
        2,
        1,
        "q6yroAAAAAAAAAAAAAAAAAAAAAAAAAAAAGAGHgASNFY=",
        [],
        "",
        False,
    ),
    (  # inclusion/single-entry/empty-leaf
        0,
        1,
        "",
        [],
        "DTrtAjFI/9KiWfvQzcf7PPl1ZYdg03dbgq9vkKrMLfw=",
        False,
    ),
    (  # inclusion/single-entry/empty-root-and-leaf
        0,
        1,
        "",
        [],
        "",
        False,
    ),
    (  # inclusion/single-entry/empty-root
        0,
        1,
        "DTrtAjFI/9KiWfvQzcf7PPl1ZYdg03dbgq9vkKrMLfw=",
        [],
        "",
        False,
    ),
    (  # inclusion/single-entry/matching-root-and-leaf
        0,
        1,
        "DTrtAjFI/9KiWfvQzcf7PPl1ZYdg03dbgq9vkKrMLfw=",
        [],
        "DTrtAjFI/9KiWfvQzcf7PPl1ZYdg03dbgq9vkKrMLfw=",
        True,
    ),
]

# (size1, size2, root1, root2, proof, valid)
CONSISTENCY_PROBES: list[tuple[int, int, str, str, list[str], bool]] = [
    (  # consistency/0/happy-path
        1,
        1,
        "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=",
        "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=",
        [],
        True,
    ),
    (  # consistency/1/happy-path
        1,
        8,
        "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB0=",
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        [
            "lqKW0iTyhcZ77pPDD4owkVfw2qNdxbh+QQt4YwoJz8c=",
            "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
            "a0eq8p7jwq+a+Im8H7klTavTEXfxYjLdaqsDXKOb9uQ=",
        ],
        True,
    ),
    (  # consistency/2/empty-proof
        6,
        8,
        "duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=",
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        [],
        False,
    ),
    (  # consistency/2/happy-path
        6,
        8,
        "duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=",
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        [
            "DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        True,
    ),
    (  # consistency/2/modified-proof@0-bit-@4
        6,
        8,
        "duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=",
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        [
            "HrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        False,
    ),
    (  # consistency/2/modified-proof@1-bit-@4
        6,
        8,
        "duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=",
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        [
            "DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
            "2oVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        False,
    ),
    (  # consistency/2/modified-proof@2-bit-@4
        6,
        8,
        "duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=",
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        [
            "DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "w37kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        False,
    ),
    (  # consistency/2/preceding-garbage
        6,
        8,
        "duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=",
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        [
            "",
            "DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        False,
    ),
    (  # consistency/2/preceding-proof-@0
        6,
        8,
        "duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=",
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        [
            "DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
            "DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        False,
    ),
    (  # consistency/2/preceding-root1
        6,
        8,
        "duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=",
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        [
            "duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=",
            "DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        False,
    ),
    (  # consistency/2/preceding-root2
        6,
        8,
        "duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=",
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        [
            "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
            "DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        False,
    ),
    (  # consistency/2/size1-XOR-@2
        4,
        8,
        "duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=",
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        [
            "DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        False,
    ),
    (  # consistency/2/size1-plus-@1
        7,
        8,
        "duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=",
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        [
            "DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        False,
    ),
    (  # consistency/2/size1-sub-@1
        5,
        8,
        "duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=",
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        [
            "DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        False,
    ),
    (  # consistency/2/size2-div-@2
        6,
        4,
        "duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=",
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        [
            "DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        False,
    ),
    (  # consistency/2/size2-mul-@2
        6,
        16,
        "duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=",
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        [
            "DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        False,
    ),
    (  # consistency/2/swapped-roots
        6,
        8,
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        "duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=",
        [
            "DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        False,
    ),
    (  # consistency/2/trailing-garbage
        6,
        8,
        "duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=",
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        [
            "DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
            "",
        ],
        False,
    ),
    (  # consistency/2/trailing-root1
        6,
        8,
        "duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=",
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        [
            "DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
            "duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=",
        ],
        False,
    ),
    (  # consistency/2/trailing-root2
        6,
        8,
        "duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=",
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        [
            "DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
            "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        ],
        False,
    ),
    (  # consistency/2/truncated-proof
        6,
        8,
        "duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=",
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        [
            "DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
        ],
        False,
    ),
    (  # consistency/2/wrong-root1
        6,
        8,
        "V3JvbmdSb290",
        "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        [
            "DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        False,
    ),
    (  # consistency/2/wrong-root2
        6,
        8,
        "duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=",
        "V3JvbmdSb290",
        [
            "DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
            "yoVOoSjtBQtBs1/8G4e46yveRh6eO1WW7Oa51ZdaCuA=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        False,
    ),
    (  # consistency/3/happy-path
        2,
        5,
        "+sVCA+fMaWzw38tCySodnbr3CtnmIfS9jZhmLwDjwSU=",
        "Tju7H3tHjc/nH7YxYxUZo7yhLJrvyhYSv85ME6hiZNQ=",
        [
            "Xwg/ChozygdqlSeYMlgNs+DvRYS9/x9UyKNg9Q3jAx4=",
            "vBoGQ7EuTS18d5GPROD095qDi2z57FtcKD4fTYhZnms=",
        ],
        True,
    ),
    (  # consistency/4/happy-path
        6,
        7,
        "duZ9rbzfHhDht03cYIq9L5jfsW+851J3tSMqEn8gh+8=",
        "3bib5AOAnjJXUNPSY814kpwpQreUKjS3fhIslZSnTIw=",
        [
            "DrxdNDf74tsVi58Sah0RjjCBgQMdCpSfje3t68VY72o=",
            "sIaT7C5yFZcTBkHoIR5+7cy0wmQTlj7ubB4u0W/7Gl8=",
            "037kGJdt2VdTwcc4Yrk5j6Kiz5tP8P3+izDNlSCWFLc=",
        ],
        True,
    ),
    (  # consistency/additional/consistency-check-on-empty-tree-size1-is-zero-is-useless
        0,
        1,
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        [
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        ],
        False,
    ),
    (  # consistency/additional/roots-do-not-match-and-sizes-are-zero
        0,
        0,
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        "ZG9uJ3QgY2FyZSAy",
        [],
        False,
    ),
    (  # consistency/additional/roots-do-not-not-match-and-sizes-are-one
        1,
        1,
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        "ZG9uJ3QgY2FyZSAy",
        [],
        False,
    ),
    (  # consistency/additional/size1-is-greater-than-size2-again
        2,
        1,
        "ZG9uJ3QgY2FyZSAx",
        "ZG9uJ3QgY2FyZSAy",
        [],
        False,
    ),
    (  # consistency/additional/size1-is-greater-than-size2
        1,
        0,
        "ZG9uJ3QgY2FyZSAx",
        "ZG9uJ3QgY2FyZSAy",
        [],
        False,
    ),
    (  # consistency/additional/size1-is-zero-and-does-not-equal-size2
        0,
        1,
        "ZG9uJ3QgY2FyZSAx",
        "ZG9uJ3QgY2FyZSAy",
        [],
        False,
    ),
    (  # consistency/additional/size1-is-zero-and-size2-is-not-zero
        0,
        1,
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        "ZG9uJ3QgY2FyZSAy",
        [],
        False,
    ),
    (  # consistency/additional/sizes-are-equal-one-and-proof-is-empty
        1,
        1,
        "ZG9uJ3QgY2FyZSAy",
        "ZG9uJ3QgY2FyZSAy",
        [],
        True,
    ),
    (  # consistency/additional/sizes-are-equal-one-but-roots-are-not
        1,
        1,
        "ZG9uJ3QgY2FyZSAx",
        "ZG9uJ3QgY2FyZSAy",
        [],
        False,
    ),
    (  # consistency/additional/sizes-are-equal-zero-and-proof-is-empty
        0,
        0,
        "ZG9uJ3QgY2FyZSAx",
        "ZG9uJ3QgY2FyZSAx",
        [],
        False,
    ),
    (  # consistency/additional/sizes-are-equal-zero-but-roots-are-not
        0,
        0,
        "ZG9uJ3QgY2FyZSAx",
        "ZG9uJ3QgY2FyZSAy",
        [],
        False,
    ),
    (  # consistency/additional/sizes-do-not-watch-and-proof-is-empty
        1,
        2,
        "ZG9uJ3QgY2FyZSAx",
        "ZG9uJ3QgY2FyZSAy",
        [],
        False,
    ),
    (  # consistency/additional/sizes-match-but-proof-is-not-empty-and-sizes-are-one
        1,
        1,
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        [
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        ],
        False,
    ),
    (  # consistency/additional/sizes-match-but-proof-is-not-empty-and-sizes-are-zero
        0,
        0,
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        [
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        ],
        False,
    ),
]


def b64(s: str) -> bytes:
    return base64.b64decode(s)


def hx(hashes: list[str]) -> list[bytes]:
    return [bytes.fromhex(h) for h in hashes]


def build(n: int, store: MemoryNodeStore | None = None) -> tuple[MerkleTree, list[bytes]]:
    """A tree of n leaves whose entries are the 4-byte big-endian index."""
    tree = MerkleTree(store)
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    for leaf in leaves:
        tree.append(leaf)
    return tree, leaves


def ref_path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n]) over the leaf list, written straight from the definition."""
    n = len(leaves)
    if n <= 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return [*ref_path(m, leaves[:k]), root(leaves[k:])]
    return [*ref_path(m - k, leaves[k:]), root(leaves[:k])]


def ref_subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    """RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], b) over the leaf list."""
    n = len(leaves)
    if m == n:
        return [] if whole else [root(leaves)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return [*ref_subproof(m, leaves[:k], whole), root(leaves[k:])]
    return [*ref_subproof(m - k, leaves[k:], False), root(leaves[:k])]


class CountingStore(MemoryNodeStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.writes = 0

    def get(self, level: int, index: int) -> bytes | None:
        self.reads += 1
        return super().get(level, index)

    def put(self, level: int, index: int, value: bytes) -> None:
        self.writes += 1
        super().put(level, index, value)


# --- reference vectors --------------------------------------------------------------------------------------


def test_hashing_primitives() -> None:
    assert EMPTY_ROOT.hex() == ROOTS[0]
    assert root([]) == EMPTY_ROOT
    assert leaf_hash(b"").hex() == NODE_HASHES[0][0]
    assert node_hash(bytes.fromhex(NODE_HASHES[0][0]), bytes.fromhex(NODE_HASHES[0][1])).hex() == NODE_HASHES[1][0]


def test_reference_node_hashes_and_roots() -> None:
    store = MemoryNodeStore()
    tree = MerkleTree(store)
    assert tree.root_at(0) == EMPTY_ROOT
    leaves = [leaf_hash(e) for e in LEAF_INPUTS]
    for size, leaf in enumerate(leaves, start=1):
        assert tree.append(leaf) == size - 1
        assert tree.size == size
        assert tree.root_at(size).hex() == ROOTS[size]
        assert root(leaves[:size]).hex() == ROOTS[size]
    for size in range(len(ROOTS)):
        assert tree.root_at(size).hex() == ROOTS[size]
    # The store holds exactly the complete subtree nodes, as in NodeHashes().
    expected = {(level, i): bytes.fromhex(h) for level, row in enumerate(NODE_HASHES) for i, h in enumerate(row)}
    assert store.nodes == expected


@pytest.mark.parametrize(("index", "size", "proof"), REF_INCLUSION)
def test_reference_inclusion_proofs(index: int, size: int, proof: list[str]) -> None:
    tree = MerkleTree()
    for entry in LEAF_INPUTS:
        tree.append_entry(entry)
    got = tree.inclusion_proof(index, size)
    assert got == hx(proof)
    assert verify_inclusion(leaf_hash(LEAF_INPUTS[index]), index, size, got, bytes.fromhex(ROOTS[size]))


@pytest.mark.parametrize(("size1", "size2", "proof"), REF_CONSISTENCY)
def test_reference_consistency_proofs(size1: int, size2: int, proof: list[str]) -> None:
    tree = MerkleTree()
    for entry in LEAF_INPUTS:
        tree.append_entry(entry)
    got = tree.consistency_proof(size1, size2)
    assert got == hx(proof)
    assert verify_consistency(size1, size2, bytes.fromhex(ROOTS[size1]), bytes.fromhex(ROOTS[size2]), got)


@pytest.mark.parametrize(("index", "size", "leaf", "proof", "root_hash", "valid"), INCLUSION_PROBES)
def test_inclusion_probes(index: int, size: int, leaf: str, proof: list[str], root_hash: str, valid: bool) -> None:
    assert verify_inclusion(b64(leaf), index, size, [b64(p) for p in proof], b64(root_hash)) is valid


@pytest.mark.parametrize(("size1", "size2", "root1", "root2", "proof", "valid"), CONSISTENCY_PROBES)
def test_consistency_probes(size1: int, size2: int, root1: str, root2: str, proof: list[str], valid: bool) -> None:
    assert verify_consistency(size1, size2, b64(root1), b64(root2), [b64(p) for p in proof]) is valid


# --- properties ---------------------------------------------------------------------------------------------


def test_exhaustive_small_trees() -> None:
    """Every proof of every tree up to 33 leaves equals the RFC definition and verifies."""
    tree, leaves = build(33)
    for n in range(1, 34):
        r = tree.root_at(n)
        assert r == root(leaves[:n])
        for i in range(n):
            proof = tree.inclusion_proof(i, n)
            assert proof == ref_path(i, leaves[:n])
            assert verify_inclusion(leaves[i], i, n, proof, r)
        for m in range(1, n + 1):
            proof = tree.consistency_proof(m, n)
            assert proof == ref_subproof(m, leaves[:n], True)
            assert verify_consistency(m, n, tree.root_at(m), r, proof)


def _flip(proof: list[bytes], rnd: random.Random) -> list[bytes]:
    i = rnd.randrange(len(proof))
    h = bytearray(proof[i])
    h[rnd.randrange(len(h))] ^= 1 << rnd.randrange(8)
    return [*proof[:i], bytes(h), *proof[i + 1 :]]


@settings(max_examples=40, deadline=None)
@given(size=st.integers(min_value=1, max_value=300), seed=st.integers(min_value=0, max_value=2**32))
def test_random_sizes_all_proofs_verify_and_tampering_fails(size: int, seed: int) -> None:
    rnd = random.Random(seed)
    tree, leaves = build(size)
    r = tree.root_at(size)
    assert r == root(leaves)
    bad_root = _flip([r], rnd)[0]
    for i in range(size):
        proof = tree.inclusion_proof(i, size)
        assert verify_inclusion(leaves[i], i, size, proof, r)
        assert not verify_inclusion(leaves[i], i, size, proof, bad_root)
        assert not verify_inclusion(leaf_hash(b"other"), i, size, proof, r)
        if size > 1:
            assert not verify_inclusion(leaves[i], (i + 1) % size, size, proof, r)
            assert not verify_inclusion(leaves[i], i, size, _flip(proof, rnd), r)
            assert not verify_inclusion(leaves[i], i, size, proof[:-1], r)
            assert not verify_inclusion(leaves[i], i, size, [*proof, proof[0]], r)
    for m in range(1, size + 1):
        old = tree.root_at(m)
        assert old == root(leaves[:m])
        proof = tree.consistency_proof(m, size)
        assert verify_consistency(m, size, old, r, proof)
        assert not verify_consistency(m, size, old, bad_root, proof)
        assert not verify_consistency(m, size, _flip([old], rnd)[0], r, proof)
        if proof:
            assert not verify_consistency(m, size, old, r, _flip(proof, rnd))
            assert not verify_consistency(m, size, old, r, proof[:-1])
            assert not verify_consistency(m, size, old, r, [*proof, proof[0]])


@settings(max_examples=40, deadline=None)
@given(size=st.integers(min_value=1, max_value=300))
def test_incremental_root_matches_recursive_root(size: int) -> None:
    tree = MerkleTree()
    leaves: list[bytes] = []
    for i in range(size):
        leaves.append(leaf_hash(bytes([i % 256, i // 256])))
        tree.append(leaves[-1])
        assert tree.root_at() == root(leaves)
    m = size // 2 + 1
    assert tree.root_at(m) == root(leaves[:m])


def test_append_and_root_do_logarithmic_store_work() -> None:
    store = CountingStore()
    tree = MerkleTree(store)
    for n in range(1, 1100):
        store.reads = store.writes = 0
        index = tree.append(leaf_hash(n.to_bytes(2, "big")))
        # Reads: one left sibling per completed parent (trailing one bits of the index); writes: leaf + parents.
        ones = (index ^ (index + 1)).bit_length() - 1
        assert store.reads == ones <= n.bit_length()
        assert store.writes == ones + 1 <= n.bit_length() + 1
        store.reads = 0
        tree.root_at(n)
        assert store.reads == bin(n).count("1")  # one stored node per complete subtree of the size
    assert len(store.nodes) == 2 * 1099 - bin(1099).count("1")  # every complete subtree node, nothing else


def test_reopened_tree_continues_from_store() -> None:
    store = MemoryNodeStore()
    first, leaves = build(37, store)
    again = MerkleTree(store, size=37)
    assert again.root_at() == first.root_at()
    extra = leaf_hash(b"more")
    again.append(extra)
    assert again.root_at() == root([*leaves, extra])
    assert verify_consistency(37, 38, first.root_at(37), again.root_at(), again.consistency_proof(37))


def test_argument_errors() -> None:
    tree, _ = build(5)
    with pytest.raises(ValueError):
        tree.root_at(6)
    with pytest.raises(ValueError):
        tree.inclusion_proof(5, 5)
    with pytest.raises(ValueError):
        tree.consistency_proof(0, 5)
    with pytest.raises(ValueError):
        tree.consistency_proof(4, 3)
    with pytest.raises(ValueError):
        tree.append(b"short")
    with pytest.raises(LookupError):
        MerkleTree(MemoryNodeStore(), size=3).root_at()
    assert not verify_inclusion(EMPTY_ROOT, 0, 0, [], EMPTY_ROOT)
    assert not verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])


# --- C2SP tlog-tiles ----------------------------------------------------------------------------------------


def test_tile_paths_from_spec() -> None:
    assert tile_path(0, 1234067) == "tile/0/x001/x234/067"
    assert tile_path(0, 0) == "tile/0/000"
    assert tile_path(1, 0, 1) == "tile/1/000.p/1"  # a tree of size 256
    assert tile_path(2, 1000) == "tile/2/x001/000"
    assert tile_path(0, 273, 112) == "tile/0/273.p/112"
    assert entries_path(1234067) == "tile/entries/x001/x234/067"
    assert entries_path(273, 112) == "tile/entries/273.p/112"
    for bad in ((0, 0, 0), (0, 0, 257), (64, 0, 256), (0, -1, 256)):
        with pytest.raises(ValueError):
            tile_path(*bad)


def test_tiles_for_sizes_from_spec() -> None:
    # "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial level 0 tile of
    # width 112, one full level 1 tile, one partial level 1 tile of width 17, and one partial level 2 tile of
    # width 1."
    tiles = tiles_for_size(70_000)
    assert [t for t in tiles if t[0] == 0] == [(0, n, 256) for n in range(273)] + [(0, 273, 112)]
    assert [t for t in tiles if t[0] > 0] == [(1, 0, 256), (1, 1, 17), (2, 0, 1)]
    # "a tree of size 256 will be represented by a full level 0 tile and a partial level 1 tile of width 1."
    assert [tile_path(*t) for t in tiles_for_size(256)] == ["tile/0/000", "tile/1/000.p/1"]
    assert tiles_for_size(0) == []
    assert tile_width(0, 1, 256) == 0
    assert tile_width(0, 0, 255) == 255


def test_hash_tiles_full_and_partial() -> None:
    size = 256 * 3 + 5
    tree, leaves = build(size)
    full = tree.tile(0, 1)
    assert full == b"".join(leaves[256:512])
    assert len(full) == 8192
    partial = tree.tile(0, 3)
    assert partial == b"".join(leaves[768:773])
    assert tree.tile(0, 3, 770) == b"".join(leaves[768:770])  # an earlier checkpoint's partial tile
    # Level 1 holds the Merkle roots of the full level-0 tiles, never a hash of their bytes.
    assert tree.tile(1, 0) == b"".join(root(leaves[i * 256 : (i + 1) * 256]) for i in range(3))
    with pytest.raises(LookupError):
        tree.tile(0, 4)
    with pytest.raises(LookupError):
        tree.tile(0, 3, 768)  # the partial tile would be empty


def test_tiles_are_consistent_across_levels() -> None:
    size = 256 * 256 + 256 * 2 + 7
    tree, leaves = build(size)
    tiles = {(level, n): tree.tile(level, n) for level, n, _ in tiles_for_size(size)}
    hashes = [
        [t[i : i + 32] for (lv, _n), t in sorted(tiles.items()) if lv == level for i in range(0, len(t), 32)]
        for level in range(3)
    ]
    assert hashes[0] == leaves
    assert [len(h) for h in hashes] == [size, 258, 1]
    # Each level-(L+1) hash is the Merkle root of 256 consecutive level-L hashes (a full tile below).
    for level in (1, 2):
        for j, h in enumerate(hashes[level]):
            assert h == root(hashes[level - 1][j * 256 : (j + 1) * 256])
    # The tiles of a checkpoint's size suffice to recompute its root.
    right = node_hash(node_hash(hashes[1][256], hashes[1][257]), root(hashes[0][-7:]))
    assert node_hash(hashes[2][0], right) == tree.root_at()


def test_entry_bundle_round_trip_and_limit() -> None:
    entries = [b"", b"a", bytes(range(256)) * 3, b"x" * MAX_ENTRY_SIZE]
    bundle = encode_entry_bundle(entries)
    assert bundle[:2] == b"\x00\x00" and bundle[2:5] == b"\x00\x01a"
    assert decode_entry_bundle(bundle) == entries
    assert len(bundle) == sum(2 + len(e) for e in entries)
    with pytest.raises(ValueError, match="65535"):
        encode_entry_bundle([b"ok", b"y" * (MAX_ENTRY_SIZE + 1)])
    with pytest.raises(ValueError):
        decode_entry_bundle(b"\x00\x05abc")
    with pytest.raises(ValueError):
        decode_entry_bundle(b"\x00")
    tree = MerkleTree()
    for e in entries:
        tree.append_entry(e)
    # Each entry in a bundle hashes to the corresponding hash of the level-0 tile.
    tile = tree.tile(0, 0)
    assert [leaf_hash(e) for e in decode_entry_bundle(bundle)] == [tile[i : i + 32] for i in range(0, len(tile), 32)]
