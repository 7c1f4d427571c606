// Command tlogclient checks a C2SP tlog-tiles transparency log with the Go module database's own
// client libraries, golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog, so that the audit
// trail is shown to be readable by code nobody on this project wrote.
//
// Usage:
//
//	tlogclient -url http://127.0.0.1:PORT/log -key <verifier key> [-saved FILE] [-check-entries] [-inclusion i,j,k]
//
// It reads <url>/checkpoint (a C2SP checkpoint in a signed note), the hash tiles <url>/tile/L/N[.p/W]
// and the entry bundles <url>/tile/entries/N[.p/W]. It prints one line per check, "ok" or "FAIL", and
// exits 0 only if every check passed, 1 if one failed, 2 on a usage error.
package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// tileHeight is fixed by C2SP tlog-tiles: 256 hashes per full tile.
const tileHeight = 8

var errNotFound = errors.New("not found (404)")

// checkpoint is a parsed C2SP tlog-checkpoint body.
type checkpoint struct {
	origin string
	tree   tlog.Tree
}

// parseCheckpoint reads "<origin>\n<size>\n<base64 root>\n" and any non-empty extension lines.
// (x/mod's tlog.ParseTree reads the go.sum database's own tree note, not this format.)
func parseCheckpoint(text string) (checkpoint, error) {
	if !strings.HasSuffix(text, "\n") {
		return checkpoint{}, errors.New("checkpoint body does not end with a newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return checkpoint{}, fmt.Errorf("checkpoint body has %d lines, want origin, size and root", len(lines))
	}
	for i, line := range lines {
		if line == "" {
			return checkpoint{}, fmt.Errorf("checkpoint line %d is empty", i+1)
		}
	}
	size := lines[1]
	if strings.Trim(size, "0123456789") != "" || (size[0] == '0' && size != "0") {
		return checkpoint{}, fmt.Errorf("checkpoint size %q is not a decimal number without leading zeros", size)
	}
	n, err := strconv.ParseInt(size, 10, 64)
	if err != nil {
		return checkpoint{}, fmt.Errorf("checkpoint size %q: %v", size, err)
	}
	if len(lines[2]) != 44 {
		return checkpoint{}, fmt.Errorf("checkpoint root %q is not 44 base64 characters", lines[2])
	}
	root, err := tlog.ParseHash(lines[2])
	if err != nil {
		return checkpoint{}, fmt.Errorf("checkpoint root %q: %v", lines[2], err)
	}
	return checkpoint{origin: lines[0], tree: tlog.Tree{N: n, Hash: root}}, nil
}

// openCheckpoint verifies a signed checkpoint with the trusted key, whose name must be the origin.
func openCheckpoint(msg []byte, v note.Verifier) (checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		switch {
		case errors.As(err, &unverified):
			var by []string
			for _, s := range unverified.Note.UnverifiedSigs {
				by = append(by, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
			}
			return checkpoint{}, fmt.Errorf("no signature by the trusted key %s+%08x (signed only by %s)",
				v.Name(), v.KeyHash(), strings.Join(by, ", "))
		case errors.As(err, &invalid):
			return checkpoint{}, fmt.Errorf("bad signature: %v", err)
		default:
			return checkpoint{}, fmt.Errorf("malformed signed note: %v", err)
		}
	}
	cp, err := parseCheckpoint(n.Text)
	if err != nil {
		return checkpoint{}, err
	}
	if cp.origin != v.Name() {
		return checkpoint{}, fmt.Errorf("checkpoint origin %q is not the key name %q", cp.origin, v.Name())
	}
	return cp, nil
}

// client reads one log over HTTP and keeps what it read for the rest of the run.
type client struct {
	base    string
	token   string // a bearer token, for a log that asks for one
	http    *http.Client
	tiles   map[tlog.Tile][]byte // hash tiles as served, not yet trusted
	bundles map[tlog.Tile][][]byte
}

func (c *client) get(path string) ([]byte, error) {
	req, err := http.NewRequest(http.MethodGet, c.base+"/"+path, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %v", path, err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<24))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %v", path, err)
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, fmt.Errorf("GET %s: %w", path, errNotFound)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %s", path, resp.Status)
	}
	return body, nil
}

// c2spPath maps x/mod's tile coordinates, tile/H/L/N[.p/W] (and tile/H/data/N for records), to C2SP
// tlog-tiles paths, which carry no height: tile/L/N[.p/W] and tile/entries/N[.p/W].
func c2spPath(t tlog.Tile) string {
	p := strings.TrimPrefix(t.Path(), fmt.Sprintf("tile/%d/", t.H))
	if t.L == -1 {
		return "tile/entries/" + strings.TrimPrefix(p, "data/")
	}
	return "tile/" + p
}

// fetch reads a tile (level -1: an entry bundle). A log serves a partial tile only until the full one
// exists, so a partial tile that is gone is read as the full tile; the caller keeps its first W items.
func (c *client) fetch(t tlog.Tile) ([]byte, string, error) {
	path := c2spPath(t)
	data, err := c.get(path)
	if errors.Is(err, errNotFound) && t.W < 1<<t.H {
		full := t
		full.W = 1 << t.H
		if data, err2 := c.get(c2spPath(full)); err2 == nil {
			return data, c2spPath(full), nil
		}
	}
	return data, path, err
}

// tileReader serves tlog.TileHashReader from the log; the hash reader checks every tile it gets.
type tileReader struct{ c *client }

func (r tileReader) Height() int { return tileHeight }

func (r tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		if data, ok := r.c.tiles[t]; ok {
			out[i] = data
			continue
		}
		data, path, err := r.c.fetch(t)
		if err != nil {
			return nil, err
		}
		want := t.W * tlog.HashSize
		if path != c2spPath(t) { // the full tile, read in place of a partial one that is gone
			want = 1 << t.H * tlog.HashSize
		}
		if len(data) != want {
			return nil, fmt.Errorf("hash tile %s has %d bytes, want %d", path, len(data), want)
		}
		data = data[:t.W*tlog.HashSize]
		r.c.tiles[t] = data
		out[i] = data
	}
	return out, nil
}

func (r tileReader) SaveTiles([]tlog.Tile, [][]byte) {} // nothing outlives the run

// bundle reads the entry bundle of level-0 tile t: W entries, each a big-endian uint16 length and bytes.
func (c *client) bundle(t tlog.Tile) ([][]byte, string, error) {
	bt := tlog.Tile{H: t.H, L: -1, N: t.N, W: t.W}
	if entries, ok := c.bundles[bt]; ok {
		return entries, c2spPath(bt), nil
	}
	data, path, err := c.fetch(bt)
	if err != nil {
		return nil, path, err
	}
	var entries [][]byte
	for pos := 0; pos < len(data); {
		if pos+2 > len(data) {
			return nil, path, fmt.Errorf("entry bundle %s is truncated in a length prefix at byte %d", path, pos)
		}
		n := int(binary.BigEndian.Uint16(data[pos:]))
		if pos+2+n > len(data) {
			return nil, path, fmt.Errorf("entry bundle %s is truncated: entry at byte %d needs %d bytes", path, pos, n)
		}
		entries = append(entries, data[pos+2:pos+2+n])
		pos += 2 + n
	}
	if path != c2spPath(bt) && len(entries) > t.W { // read the full bundle instead of a partial one
		entries = entries[:t.W]
	}
	if len(entries) != t.W {
		return nil, path, fmt.Errorf("entry bundle %s holds %d entries, want %d", path, len(entries), t.W)
	}
	c.bundles[bt] = entries
	return entries, path, nil
}

// check is one run of the checks against one checkpoint.
type check struct {
	c        *client
	cp       checkpoint
	v        note.Verifier
	hashes   tlog.HashReader // every hash it returns is proven to be in cp.tree
	verified map[tlog.Tile][]byte
	failed   int
	passed   int
}

func (k *check) report(name string, detail string, err error) {
	if err != nil {
		k.failed++
		fmt.Printf("FAIL %s: %v\n", name, err)
		return
	}
	k.passed++
	fmt.Printf("ok   %s: %s\n", name, detail)
}

// levelZero returns the hashes of level-0 tile t once they are proven against the root.
func (k *check) levelZero(t tlog.Tile) ([]byte, error) {
	if data, ok := k.verified[t]; ok {
		return data, nil
	}
	data, err := tlog.ReadTileData(t, k.hashes)
	if err != nil {
		return nil, fmt.Errorf("hash tile %s or a tile above it: %v", c2spPath(t), err)
	}
	k.verified[t] = data
	return data, nil
}

// tiles proves every tile of the tree against the root: first the tiles on the tree's right edge, which
// every proof uses, then the rest top level first, so that the first tile that fails is the wrong one.
func (k *check) tiles() (string, error) {
	th, err := tlog.TreeHash(k.cp.tree.N, k.hashes)
	if err != nil {
		return "", fmt.Errorf("root from the tiles on the right edge: %v", err)
	}
	if th != k.cp.tree.Hash {
		return "", fmt.Errorf("the tiles hash to root %v, the checkpoint says %v", th, k.cp.tree.Hash)
	}
	tiles := tlog.NewTiles(tileHeight, 0, k.cp.tree.N)
	sort.SliceStable(tiles, func(i, j int) bool { return tiles[i].L > tiles[j].L })
	levels := 0
	for _, t := range tiles {
		data, err := tlog.ReadTileData(t, k.hashes)
		if err != nil {
			return "", fmt.Errorf("hash tile %s: %v", c2spPath(t), err)
		}
		if t.L == 0 {
			k.verified[t] = data
		}
		levels = max(levels, t.L+1)
	}
	return fmt.Sprintf("%d tiles on %d levels match root %v", len(tiles), levels, k.cp.tree.Hash), nil
}

// entries hashes every entry of every bundle with tlog.RecordHash and compares it with the level-0 tiles.
func (k *check) entries() (string, error) {
	count, bundles := 0, 0
	for _, t := range tlog.NewTiles(tileHeight, 0, k.cp.tree.N) {
		if t.L != 0 {
			continue
		}
		hashes, err := k.levelZero(t)
		if err != nil {
			return "", err
		}
		entries, path, err := k.c.bundle(t)
		if err != nil {
			return "", err
		}
		for i, e := range entries {
			h := tlog.RecordHash(e)
			if !bytes.Equal(h[:], hashes[i*tlog.HashSize:(i+1)*tlog.HashSize]) {
				return "", fmt.Errorf("entry %d (item %d of %s) hashes to %v, but hash tile %s has %v",
					t.N<<tileHeight+int64(i), i, path, h, c2spPath(t), hashes[i*tlog.HashSize:(i+1)*tlog.HashSize])
			}
		}
		count += len(entries)
		bundles++
	}
	if int64(count) != k.cp.tree.N {
		return "", fmt.Errorf("the bundles hold %d entries, the checkpoint says %d", count, k.cp.tree.N)
	}
	return fmt.Sprintf("%d entries in %d bundles match the level-0 hash tiles", count, bundles), nil
}

// inclusion proves that the entry at index n, as served in its bundle, is in the tree.
func (k *check) inclusion(n int64) (string, error) {
	size := k.cp.tree.N
	if n < 0 || n >= size {
		return "", fmt.Errorf("index %d is outside the tree of size %d", n, size)
	}
	t := tlog.Tile{H: tileHeight, L: 0, N: n >> tileHeight, W: int(min(1<<tileHeight, size-n>>tileHeight<<tileHeight))}
	entries, path, err := k.c.bundle(t)
	if err != nil {
		return "", err
	}
	entry := entries[n-t.N<<tileHeight]
	proof, err := tlog.ProveRecord(size, n, k.hashes)
	if err != nil {
		return "", fmt.Errorf("proof for entry %d from the hash tiles: %v", n, err)
	}
	if err := tlog.CheckRecord(proof, size, k.cp.tree.Hash, n, tlog.RecordHash(entry)); err != nil {
		return "", fmt.Errorf("entry %d as served in %s is not in the tree of size %d: %v", n, path, size, err)
	}
	return fmt.Sprintf("entry %d (%d bytes) is in the tree of size %d, proof of %d hashes", n, len(entry), size, len(proof)), nil
}

// consistency proves that the tree of the saved checkpoint is a prefix of the current tree.
func (k *check) consistency(file string) (string, error) {
	msg, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	old, err := openCheckpoint(msg, k.v)
	if err != nil {
		return "", fmt.Errorf("saved checkpoint %s: %v", file, err)
	}
	n, size := old.tree.N, k.cp.tree.N
	switch {
	case n > size:
		return "", fmt.Errorf("saved checkpoint has size %d, more than the current %d: the log shrank or forked", n, size)
	case n == size && old.tree.Hash != k.cp.tree.Hash:
		return "", fmt.Errorf("saved checkpoint has the current size %d but root %v, not %v: the log forked", n, old.tree.Hash, k.cp.tree.Hash)
	case n == 0 || n == size:
		return fmt.Sprintf("saved size %d is the current tree or empty", n), nil
	}
	proof, err := tlog.ProveTree(size, n, k.hashes)
	if err != nil {
		return "", fmt.Errorf("proof from size %d to %d: %v", n, size, err)
	}
	if err := tlog.CheckTree(proof, size, k.cp.tree.Hash, n, old.tree.Hash); err != nil {
		return "", fmt.Errorf("the tree of size %d does not extend the saved tree of size %d with root %v: %v (the log forked)",
			size, n, old.tree.Hash, err)
	}
	return fmt.Sprintf("size %d (root %v) extends the saved size %d (root %v), proof of %d hashes",
		size, k.cp.tree.Hash, n, old.tree.Hash, len(proof)), nil
}

func usage(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "tlogclient: "+format+"\n", args...)
	flag.Usage()
	os.Exit(2)
}

func main() {
	url := flag.String("url", "", "base URL of the log, e.g. http://127.0.0.1:8004/log")
	key := flag.String("key", "", "the trusted verifier key, <name>+<hex id>+<base64 key>; the name is the log's origin")
	saved := flag.String("saved", "", "file holding an earlier signed checkpoint of this log, to prove consistency with")
	checkEntries := flag.Bool("check-entries", false, "read every entry bundle and check each entry against the hash tiles")
	inclusion := flag.String("inclusion", "", "comma-separated entry indexes whose inclusion to prove")
	timeout := flag.Duration("timeout", 30*time.Second, "timeout of each HTTP request")
	token := flag.String("token", os.Getenv("TLOG_TOKEN"), "bearer token sent with every request (default $TLOG_TOKEN)")
	flag.Parse()
	if *url == "" || *key == "" || flag.NArg() != 0 {
		usage("-url and -key are required")
	}
	v, err := note.NewVerifier(*key)
	if err != nil {
		usage("bad -key %q: %v", *key, err)
	}
	var indexes []int64
	if *inclusion != "" {
		for _, s := range strings.Split(*inclusion, ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
			if err != nil {
				usage("bad -inclusion index %q", s)
			}
			indexes = append(indexes, n)
		}
	}

	c := &client{
		base:    strings.TrimSuffix(*url, "/"),
		token:   *token,
		http:    &http.Client{Timeout: *timeout},
		tiles:   map[tlog.Tile][]byte{},
		bundles: map[tlog.Tile][][]byte{},
	}
	k := &check{c: c, v: v, verified: map[tlog.Tile][]byte{}}
	msg, err := c.get("checkpoint")
	if err == nil {
		k.cp, err = openCheckpoint(msg, v)
	}
	if err != nil {
		k.report("checkpoint", "", err)
		fmt.Println("tlogclient: the checkpoint does not verify; nothing else can be checked")
		os.Exit(1)
	}
	k.report("checkpoint", fmt.Sprintf("origin %s, size %d, root %v, signed by %s+%08x",
		k.cp.origin, k.cp.tree.N, k.cp.tree.Hash, v.Name(), v.KeyHash()), nil)
	k.hashes = tlog.TileHashReader(k.cp.tree, tileReader{c})

	detail, err := k.tiles()
	k.report("hash tiles", detail, err)
	if *checkEntries {
		detail, err := k.entries()
		k.report("entry bundles", detail, err)
	}
	for _, n := range indexes {
		detail, err := k.inclusion(n)
		k.report(fmt.Sprintf("inclusion %d", n), detail, err)
	}
	if *saved != "" {
		detail, err := k.consistency(*saved)
		k.report("consistency", detail, err)
	}
	if k.failed > 0 {
		fmt.Printf("tlogclient: %d of %d checks failed\n", k.failed, k.failed+k.passed)
		os.Exit(1)
	}
	fmt.Printf("tlogclient: all %d checks passed\n", k.passed)
}
