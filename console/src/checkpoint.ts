/**
 * C2SP signed notes and tlog checkpoints (https://c2sp.org/signed-note, https://c2sp.org/tlog-checkpoint):
 * "<origin>\n<size>\n<base64 root>\n[extensions]\n\n— <key name> <base64(key id ‖ signature)>\n".
 * The Ed25519 signature, when the browser's WebCrypto has Ed25519, is checked against a verifier key
 * "<name>+<hex key id>+<base64(0x01 ‖ public key)>", as services/audit/note.py writes them.
 */
import { base64ToBytes, bytesToHex, type Bytes } from "./merkle";

export interface Signature {
  name: string;
  keyId: string; // 8 hex digits
  signature: Bytes;
}

export interface Checkpoint {
  origin: string;
  size: number;
  root: Bytes;
  rootHex: string;
  text: string; // what the signatures cover, with its final newline
  signatures: Signature[];
}

export class CheckpointError extends Error {}

const SIGNATURE_PREFIX = "\u2014 ";

/** Read a signed checkpoint; throws CheckpointError with the reason for anything malformed. */
export function parseCheckpoint(note: string): Checkpoint {
  const normalised = note.replace(/\r\n/g, "\n");
  const split = normalised.indexOf("\n\n");
  if (split < 0) throw new CheckpointError("不是签名的检查点：缺少签名前的空行");
  const text = normalised.slice(0, split + 1);
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3) throw new CheckpointError("检查点应有来源、大小、根哈希三行");
  const [origin, sizeText, rootText] = lines;
  if (!/^(0|[1-9][0-9]{0,15})$/.test(sizeText)) throw new CheckpointError(`树大小不是十进制整数：${sizeText}`);
  let root: Bytes;
  try {
    root = base64ToBytes(rootText);
  } catch {
    throw new CheckpointError("根哈希不是 base64");
  }
  if (root.length !== 32) throw new CheckpointError("根哈希应为 32 字节");
  const signatures: Signature[] = [];
  for (const line of normalised.slice(split + 2).split("\n")) {
    if (!line) continue;
    if (!line.startsWith(SIGNATURE_PREFIX)) throw new CheckpointError(`签名行格式错误：${line.slice(0, 30)}`);
    const [name, data] = line.slice(SIGNATURE_PREFIX.length).split(" ");
    const raw = base64ToBytes(data ?? "");
    if (raw.length < 5) throw new CheckpointError("签名过短");
    signatures.push({ name, keyId: bytesToHex(raw.slice(0, 4)), signature: raw.slice(4) });
  }
  if (signatures.length === 0) throw new CheckpointError("检查点没有签名");
  return { origin, size: Number(sizeText), root, rootHex: bytesToHex(root), text, signatures };
}

/** Whether this browser's WebCrypto can check Ed25519 signatures. */
export async function ed25519Supported(): Promise<boolean> {
  try {
    await crypto.subtle.importKey("raw", new Uint8Array(32), { name: "Ed25519" }, false, ["verify"]);
    return true;
  } catch {
    return false;
  }
}

/** True if a signature line by the verifier key `vkey` signs the note's text; false if none does or it fails. */
export async function verifySignature(checkpoint: Checkpoint, vkey: string): Promise<boolean> {
  const match = /^([^+\s]+)\+([0-9a-fA-F]{8})\+([A-Za-z0-9+/=]+)$/.exec(vkey.trim());
  if (!match) throw new CheckpointError("验证密钥格式错误");
  const [, name, keyId, key64] = match;
  const raw = base64ToBytes(key64);
  if (raw.length !== 33 || raw[0] !== 1) throw new CheckpointError("验证密钥不是 Ed25519 公钥");
  const line = checkpoint.signatures.find((s) => s.name === name && s.keyId === keyId.toLowerCase());
  if (!line) return false;
  const key = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
  return crypto.subtle.verify("Ed25519", key, line.signature, new TextEncoder().encode(checkpoint.text));
}
