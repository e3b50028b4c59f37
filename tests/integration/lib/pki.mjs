// A throw-away public key infrastructure for the TLS tests, made with the openssl command line in
// a temporary directory: a root CA, an intermediate CA signed by it, and server certificates
// signed by the intermediate (or by any CA of the set). Keys are EC P-256 (fast to generate).
// Every certificate gets a random serial number and the subject/issuer it was asked for, so a
// test can tell which certificate a server presented. The directory is removed by closeAll()
// (harness `track`).
//
//   const pki = await createPki();                 // root + intermediate
//   const leaf = pki.issue("localhost", { dns: ["localhost"], ip: ["127.0.0.1"] });
//   leaf.cert, leaf.key                            // PEM file paths
//   pki.root.cert, pki.intermediate.cert           // CA certificates (PEM file paths)
//   leaf.serial                                    // upper-case hex, as Node's getPeerCertificate()
import { execFileSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { track } from "./harness.mjs";

const OPENSSL = process.env.OPENSSL ?? "openssl";

function openssl(args, { cwd } = {}) {
  try {
    return execFileSync(OPENSSL, args, { cwd, stdio: ["ignore", "pipe", "pipe"], timeout: 30000 }).toString("utf8");
  } catch (e) {
    const stderr = e.stderr ? e.stderr.toString("utf8") : "";
    throw new Error(`openssl ${args.join(" ")} failed: ${e.message}\n${stderr}`);
  }
}

/** A positive serial number with a non-zero first nibble (so its hex form has no leading 0). */
function randomSerial() {
  const bytes = crypto.randomBytes(12);
  bytes[0] = (bytes[0] & 0x3f) | 0x10;
  return bytes.toString("hex").toUpperCase();
}

const REQ_CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
`;

function caExtensions(pathlen) {
  return `[ext]
basicConstraints = critical,CA:TRUE${pathlen === undefined ? "" : `,pathlen:${pathlen}`}
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
`;
}

function leafExtensions({ dns = [], ip = [] }) {
  const san = [...dns.map((d) => `DNS:${d}`), ...ip.map((i) => `IP:${i}`)].join(",");
  return `[ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
${san ? `subjectAltName = ${san}\n` : ""}`;
}

/** "/CN=x/O=y" from {CN, O, ...}; openssl wants '/' and '\' escaped in values. */
function subjectArg(subject) {
  return Object.entries(subject)
    .map(([k, v]) => `/${k}=${String(v).replace(/[\\/]/g, (c) => `\\${c}`)}`)
    .join("");
}

class Pki {
  constructor(dir) {
    this.dir = dir;
    this.count = 0;
  }

  file(name) {
    return path.join(this.dir, name);
  }

  newKey(name) {
    const key = this.file(`${name}.key`);
    openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key]);
    return key;
  }

  /** Self-signed root CA. */
  makeRoot(cn) {
    const name = `root-${++this.count}`;
    const key = this.newKey(name);
    const cert = this.file(`${name}.pem`);
    const cnf = this.file(`${name}.cnf`);
    fs.writeFileSync(cnf, REQ_CONFIG + caExtensions());
    const serial = randomSerial();
    openssl(["req", "-x509", "-new", "-key", key, "-subj", subjectArg({ O: "socketio-server tests", CN: cn }), "-days", "365",
      "-sha256", "-set_serial", `0x${serial}`, "-config", cnf, "-extensions", "ext", "-out", cert]);
    return this.describe({ name, cert, key, serial, cn });
  }

  /**
   * Signs a new certificate with `issuer` (default: the intermediate).
   * @param {string} cn subject common name
   * @param {{dns?: string[], ip?: string[], ca?: boolean, issuer?: object, key?: string,
   *   subject?: object, expired?: boolean}} opts
   *   ca: make an intermediate CA (pathlen 0); key: reuse an existing key file;
   *   subject: more subject fields (e.g. {O: "reloaded"}); expired: validity in 2020
   */
  issue(cn, { dns = [], ip = [], ca = false, issuer = this.intermediate, key, subject = {}, expired = false } = {}) {
    const name = `${ca ? "ca" : "leaf"}-${++this.count}`;
    key ??= this.newKey(name);
    const csr = this.file(`${name}.csr`);
    const cert = this.file(`${name}.pem`);
    const cnf = this.file(`${name}.cnf`);
    fs.writeFileSync(cnf, REQ_CONFIG + (ca ? caExtensions(0) : leafExtensions({ dns, ip })));
    const subj = subjectArg({ O: "socketio-server tests", ...subject, CN: cn });
    openssl(["req", "-new", "-key", key, "-subj", subj, "-config", cnf, "-out", csr]);
    const serial = randomSerial();
    if (expired) {
      // `openssl x509` (3.0) cannot back-date; `openssl ca` can, given a small database.
      const db = this.file(`${name}.index`);
      fs.writeFileSync(db, "");
      const serialFile = this.file(`${name}.serial`);
      fs.writeFileSync(serialFile, `${serial}\n`);
      const caCnf = this.file(`${name}.ca.cnf`);
      fs.writeFileSync(caCnf, `[ca]
default_ca = this
[this]
database = ${db}
serial = ${serialFile}
new_certs_dir = ${this.dir}
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[any]
commonName = supplied
organizationName = optional
${ca ? caExtensions(0) : leafExtensions({ dns, ip })}`);
      openssl(["ca", "-batch", "-config", caCnf, "-cert", issuer.cert, "-keyfile", issuer.key, "-in", csr, "-out", cert,
        "-startdate", "20200101000000Z", "-enddate", "20200201000000Z", "-extensions", "ext", "-notext",
        "-preserveDN"]);
      return this.describe({ name, cert, key, serial, cn });
    }
    openssl(["x509", "-req", "-in", csr, "-CA", issuer.cert, "-CAkey", issuer.key, "-set_serial", `0x${serial}`,
      "-days", "365", "-sha256", "-extfile", cnf, "-extensions", "ext", "-out", cert]);
    return this.describe({ name, cert, key, serial, cn });
  }

  describe(entry) {
    entry.pem = fs.readFileSync(entry.cert, "utf8");
    return entry;
  }

  /** Writes `text` to a new file in the PKI directory and returns its path. */
  write(name, text) {
    const p = this.file(name);
    fs.writeFileSync(p, text);
    return p;
  }

  /** Concatenates PEM files into a new one (e.g. leaf + intermediate). */
  bundle(name, ...files) {
    return this.write(name, files.map((f) => fs.readFileSync(f, "utf8")).join(""));
  }
}

/**
 * Makes a temporary directory with a root CA ("Test Root CA") and an intermediate CA ("Test
 * Intermediate CA") signed by it. The directory is removed by closeAll().
 */
export function createPki({ prefix = "sio-pki-" } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  track({ dir }, () => fs.rmSync(dir, { recursive: true, force: true }));
  const pki = new Pki(dir);
  pki.root = pki.makeRoot("Test Root CA");
  pki.intermediate = pki.issue("Test Intermediate CA", { ca: true, issuer: pki.root });
  return pki;
}

/** Replaces `dest` atomically with the contents of `src` (as certbot and Kubernetes do). */
export function replaceFile(src, dest) {
  const tmp = `${dest}.tmp-${process.pid}-${crypto.randomBytes(4).toString("hex")}`;
  fs.copyFileSync(src, tmp);
  fs.renameSync(tmp, dest);
}
