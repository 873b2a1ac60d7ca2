// verify.mjs checks the fixtures written by scripts/interop/gen with libraries that share no code
// with ezheng: panva's `jose` for the JWTs, `did-jwt-vc` (uPort/Veramo) for VCDM 1.1 JWT-VCs,
// `@sd-jwt/sd-jwt-vc` (+ `@sd-jwt/crypto-nodejs`) for SD-JWT VC, Digital Bazaar's `@digitalbazaar/vc`
// with `@digitalbazaar/ed25519-signature-2020` (jsonld-signatures, rdf-canonize) for the VCDM 1.1
// JSON-LD credential and its BitstringStatusListEntry. JSON-LD contexts come from Digital Bazaar's
// context packages (credentials v1, Ed25519Signature2020, Bitstring Status List v1, DID v1),
// offline; only our own licence context is read from the fixtures. Issuer keys are taken from the kid's DID (did:key, did:jwk), decoded here without
// ezheng's code, and cross-checked with the published JWK files.
//
// Usage: node scripts/interop/verify.mjs DIR
//
// Prints one line per check ("ok   <name>: <details>" or "FAIL <name>: <reason>") and a final
// line "interop: N passed, M failed". Exits 1 if any check failed, 2 on a usage error.

import { createHash, ECDH } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';

import * as jose from 'jose';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { digest, ES256 } from '@sd-jwt/crypto-nodejs';
import { verifyCredential } from 'did-jwt-vc';
import * as vc from '@digitalbazaar/vc';
import { Ed25519Signature2020 } from '@digitalbazaar/ed25519-signature-2020';
import { contexts as credentialsContexts } from '@digitalbazaar/credentials-context';
import ed25519Context from 'ed25519-signature-2020-context';
import { contexts as statusContexts } from '@digitalbazaar/vc-bitstring-status-list-context';
import didContext from 'did-context';

const CONTEXT_V2 = 'https://www.w3.org/ns/credentials/v2';
const CONTEXT_V1 = 'https://www.w3.org/2018/credentials/v1';
const SKEW = 60; // seconds of clock difference tolerated between gen and verify

const dir = process.argv[2];
if (!dir || process.argv.length !== 3) {
  console.error('usage: node verify.mjs DIR');
  process.exit(2);
}
const read = (name) => readFileSync(join(dir, name), 'utf8');
const readJSON = (name) => JSON.parse(read(name));
const expected = readJSON('expected.json');

// --- small independent helpers -------------------------------------------------------------

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

function assertEqual(got, want, what) {
  if (!isDeepStrictEqual(got, want)) {
    throw new Error(`${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

// base58btc decodes s (Bitcoin alphabet).
function base58btc(s) {
  let n = 0n;
  for (const c of s) {
    const v = BASE58.indexOf(c);
    assert(v >= 0, `invalid base58 character ${c}`);
    n = n * 58n + BigInt(v);
  }
  const bytes = [];
  while (n > 0n) {
    bytes.unshift(Number(n & 0xffn));
    n >>= 8n;
  }
  for (const c of s) {
    if (c !== '1') break;
    bytes.unshift(0);
  }
  return Buffer.from(bytes);
}

// didKeyJWK resolves a DID URL of did:key (Ed25519 or P-256) or did:jwk to the public JWK of its
// verification method, checking that the fragment is the one the method defines.
function didKeyJWK(kid) {
  const hash = kid.indexOf('#');
  assert(hash > 0, `kid ${kid} is not a DID URL with a fragment`);
  const did = kid.slice(0, hash);
  const frag = kid.slice(hash + 1);
  if (did.startsWith('did:key:')) {
    const id = did.slice('did:key:'.length);
    assert(frag === id, `did:key fragment ${frag} is not the method-specific id`);
    assert(id.startsWith('z'), 'did:key is not base58btc multibase');
    const raw = base58btc(id.slice(1));
    if (raw[0] === 0xed && raw[1] === 0x01 && raw.length === 34) {
      return { did, jwk: { kty: 'OKP', crv: 'Ed25519', x: b64url(raw.subarray(2)) } };
    }
    if (raw[0] === 0x80 && raw[1] === 0x24 && raw.length === 35) {
      const point = ECDH.convertKey(raw.subarray(2), 'prime256v1', undefined, undefined, 'uncompressed');
      return {
        did,
        jwk: { kty: 'EC', crv: 'P-256', x: b64url(point.subarray(1, 33)), y: b64url(point.subarray(33)) },
      };
    }
    throw new Error(`did:key with unsupported multicodec ${raw.subarray(0, 2).toString('hex')}`);
  }
  if (did.startsWith('did:jwk:')) {
    assert(frag === '0', `did:jwk fragment ${frag} is not 0`);
    const jwk = JSON.parse(Buffer.from(did.slice('did:jwk:'.length), 'base64url').toString('utf8'));
    assert(!('d' in jwk), 'did:jwk holds a private key');
    return { did, jwk };
  }
  throw new Error(`unsupported DID method in ${kid}`);
}

// issuerKey resolves kid, checks that the DID's key is the published JWK in file, and returns the
// DID and the key imported for alg.
async function issuerKey(kid, file, alg) {
  const { did, jwk } = didKeyJWK(kid);
  const published = readJSON(file);
  for (const m of ['kty', 'crv', 'x', 'y']) {
    assertEqual(jwk[m], published[m], `JWK member ${m} of ${kid} vs ${file}`);
  }
  return { did, key: await jose.importJWK(jwk, alg), jwk };
}

const now = () => Math.floor(Date.now() / 1000);

// --- checks ----------------------------------------------------------------------------------

const checks = [];
const check = (name, fn) => checks.push({ name, fn });

const sd = expected.sdjwt;

// sdInstance returns an SD-JWT VC verifier whose issuer signature check uses jose with the key
// resolved from the kid, and whose key-binding check uses @sd-jwt/crypto-nodejs (WebCrypto)
// with the holder key from the verified cnf.jwk.
async function sdInstance() {
  const { key } = await issuerKey(sd.kid, sd.jwk, sd.alg);
  return new SDJwtVcInstance({
    hasher: digest,
    hashAlg: 'sha-256',
    verifier: async (data, signature) => {
      try {
        const { protectedHeader } = await jose.compactVerify(`${data}.${signature}`, key, { algorithms: [sd.alg] });
        return protectedHeader.kid === sd.kid;
      } catch {
        return false;
      }
    },
    kbVerifier: async (data, signature, payload) => {
      assert(payload?.cnf?.jwk, 'no cnf.jwk in the verified issuer payload');
      return (await ES256.getVerifier(payload.cnf.jwk))(data, signature);
    },
  });
}

// headerOf decodes the protected header of a compact JWS without verifying it (for typ/kid).
const headerOf = (jws) => jose.decodeProtectedHeader(jws);

check('sd-jwt-vc issuance (@sd-jwt/sd-jwt-vc): issuer signature and every disclosure', async () => {
  const issued = read(sd.issued).trim();
  const inst = await sdInstance();
  const { payload, header } = await inst.verify(issued, { skewSeconds: SKEW });
  assertEqual(header.typ, sd.typ, 'typ');
  assertEqual(header.alg, sd.alg, 'alg');
  assertEqual(header.kid, sd.kid, 'kid');
  assertEqual(payload.iss, didKeyJWK(sd.kid).did, 'iss vs the DID of kid');
  assertEqual(payload.iss, sd.issuer, 'iss');
  assertEqual(payload.vct, sd.vct, 'vct');
  assertEqual(payload.sub, sd.subject, 'sub');
  assertEqual(payload.nbf, sd.validFrom, 'nbf');
  assertEqual(payload.exp, sd.exp, 'exp');
  const holder = readJSON(sd.holderJwk);
  assertEqual({ ...payload.cnf.jwk }, holder, 'cnf.jwk vs holder.jwk.json');
  for (const [name, value] of Object.entries(sd.claims)) {
    assertEqual(payload[name], value, `disclosed claim ${name}`);
  }
  assert(!('_sd' in payload) && !('_sd_alg' in payload), 'digests left in the processed claims');
  const disclosures = issued.split('~').slice(1, -1).length;
  assertEqual(disclosures, Object.keys(sd.claims).length, 'number of disclosures');
  return `${disclosures} disclosures, typ ${header.typ}, ${header.alg}, iss = DID of kid`;
});

check('sd-jwt-vc presentation (@sd-jwt/sd-jwt-vc): disclosed claims only, sd_hash, KB-JWT', async () => {
  const presented = read(sd.presented).trim();
  const inst = await sdInstance();
  const { payload, kb } = await inst.verify(presented, { keyBindingNonce: sd.nonce, skewSeconds: SKEW });
  assert(kb, 'no key binding verified');
  for (const name of Object.keys(sd.claims)) {
    if (sd.kept.includes(name)) {
      assertEqual(payload[name], sd.claims[name], `disclosed claim ${name}`);
    } else {
      assert(!(name in payload), `withheld claim ${name} is visible`);
    }
  }
  assertEqual(kb.header.typ, 'kb+jwt', 'KB-JWT typ');
  assertEqual(kb.payload.aud, sd.aud, 'KB-JWT aud');
  assertEqual(kb.payload.nonce, sd.nonce, 'KB-JWT nonce');
  assertEqual(kb.payload.iat, sd.iat, 'KB-JWT iat');
  assert(Math.abs(now() - kb.payload.iat) <= 300, `KB-JWT iat ${kb.payload.iat} not fresh`);
  // sd_hash again, computed here with node:crypto over the presentation up to the last '~'.
  const sdPart = presented.slice(0, presented.lastIndexOf('~') + 1);
  const sdHash = createHash('sha256').update(sdPart, 'ascii').digest('base64url');
  assertEqual(kb.payload.sd_hash, sdHash, 'sd_hash vs SHA-256 of the SD-JWT part');
  // And the KB-JWT signature once more with jose and the published holder key.
  const kbJwt = presented.slice(presented.lastIndexOf('~') + 1);
  const holder = await jose.importJWK(readJSON(sd.holderJwk), 'ES256');
  await jose.jwtVerify(kbJwt, holder, { algorithms: ['ES256'], typ: 'kb+jwt', audience: sd.aud });
  return `kept ${sd.kept.join(', ')}; withheld ${Object.keys(sd.claims).length - sd.kept.length}; ` +
    `KB-JWT ES256 aud/nonce/iat/sd_hash ok`;
});

for (const c of expected.credentials) {
  const label = c.format === 'vc+jwt' ? 'VCDM 2.0 vc+jwt' : 'VCDM 1.1 JWT-VC';
  check(`${label} ${c.alg} (jose.jwtVerify, key from ${c.kid.split(':').slice(0, 2).join(':')})`, async () => {
    const token = read(c.file).trim();
    const kid = headerOf(token).kid;
    assertEqual(kid, c.kid, 'kid');
    const { did, key } = await issuerKey(kid, c.jwk, c.alg);
    const opts = { algorithms: [c.alg], typ: c.typ, clockTolerance: SKEW };
    if (c.format !== 'vc+jwt') Object.assign(opts, { issuer: did, subject: c.subject });
    const { payload, protectedHeader: h } = await jose.jwtVerify(token, key, opts);
    assertEqual(h.alg, c.alg, 'alg');
    assertEqual(h.typ, c.typ, 'typ');
    let vc;
    if (c.format === 'vc+jwt') {
      assertEqual(h.cty, 'vc', 'cty');
      assert(!('vc' in payload), 'a vc+jwt payload must be the credential, not wrap it in "vc"');
      vc = payload;
      const issuer = typeof vc.issuer === 'string' ? vc.issuer : vc.issuer?.id;
      assertEqual(issuer, did, 'issuer vs the DID of kid');
      assertEqual(vc.id, c.id, 'id');
      assertEqual(Date.parse(vc.validFrom) / 1000, c.validFrom, 'validFrom');
      assertEqual(Date.parse(vc.validUntil) / 1000, c.validUntil, 'validUntil');
      assert(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(vc.validFrom), 'validFrom is not a dateTimeStamp');
      const t = now();
      assert(Date.parse(vc.validFrom) / 1000 - SKEW <= t && t < Date.parse(vc.validUntil) / 1000 + SKEW, 'not valid now');
      assertEqual(vc.credentialSubject.id, c.subject, 'credentialSubject.id');
    } else {
      assertEqual(payload.iss, did, 'iss vs the DID of kid');
      assertEqual(payload.sub, c.subject, 'sub');
      assertEqual(payload.jti, c.id, 'jti');
      assertEqual(payload.nbf, c.validFrom, 'nbf');
      assertEqual(payload.exp, c.validUntil, 'exp');
      vc = payload.vc;
      assert(vc && typeof vc === 'object', 'no vc claim');
      assert(!('proof' in vc), 'vc holds a proof');
      for (const m of ['issuer', 'issuanceDate', 'expirationDate', 'id']) {
        if (m in vc) throw new Error(`vc.${m} duplicates a registered claim`);
      }
    }
    assertEqual(vc['@context'], [c.context], '@context');
    assertEqual(vc.type, ['VerifiableCredential', ...c.types], 'type');
    const { id: _, ...subject } = vc.credentialSubject;
    assertEqual(subject, c.claims, 'credentialSubject');
    assertEqual(vc.credentialStatus?.id, c.statusId, 'credentialStatus.id');
    return `typ ${h.typ}, kid = DID URL of the issuer, claims as issued`;
  });
}

// didResolver is a did-resolver Resolvable for did:key and did:jwk built on didKeyJWK: the DID
// document lists the one key as a JsonWebKey2020 for assertionMethod and authentication.
const didResolver = {
  async resolve(didUrl) {
    const did = didUrl.split('#')[0];
    const id = did.startsWith('did:jwk:') ? `${did}#0` : `${did}#${did.slice('did:key:'.length)}`;
    const { jwk } = didKeyJWK(id);
    return {
      didResolutionMetadata: { contentType: 'application/did+ld+json' },
      didDocumentMetadata: {},
      didDocument: {
        '@context': ['https://www.w3.org/ns/did/v1'],
        id: did,
        verificationMethod: [{ id, type: 'JsonWebKey2020', controller: did, publicKeyJwk: jwk }],
        assertionMethod: [id],
        authentication: [id],
      },
    };
  },
};

for (const c of expected.credentials.filter((c) => c.format !== 'vc+jwt')) {
  check(`VCDM 1.1 JWT-VC ${c.alg} (did-jwt-vc verifyCredential, §6.3.1 decoding)`, async () => {
    const token = read(c.file).trim();
    const v = await verifyCredential(token, didResolver, { proofPurpose: 'assertionMethod' });
    assertEqual(v.issuer, c.issuer, 'issuer');
    assertEqual(v.signer.id, c.kid, 'signing key');
    const vc = v.verifiableCredential;
    assertEqual(vc.issuer?.id ?? vc.issuer, c.issuer, 'normalized issuer');
    assertEqual(vc.id, c.id, 'normalized id (from jti)');
    assertEqual(vc.credentialSubject.id, c.subject, 'normalized credentialSubject.id (from sub)');
    assertEqual(Date.parse(vc.issuanceDate) / 1000, c.validFrom, 'normalized issuanceDate (from nbf)');
    assertEqual(Date.parse(vc.expirationDate) / 1000, c.validUntil, 'normalized expirationDate (from exp)');
    assertEqual(vc['@context'], [c.context], '@context');
    assertEqual(vc.type, ['VerifiableCredential', ...c.types], 'type');
    const { id: _, ...subject } = vc.credentialSubject;
    assertEqual(subject, c.claims, 'credentialSubject');
    assertEqual(vc.proof?.type, 'JwtProof2020', 'proof type');
    return `signer ${c.kid.slice(0, 24)}..., issuer/id/subject/issuanceDate/expirationDate restored from iss/jti/sub/nbf/exp`;
  });
}

// --- VCDM 1.1 JSON-LD (ldp_vc) --------------------------------------------------------------

const ldp = expected.ldp;

// ldpDocumentLoader serves, offline, the contexts of Digital Bazaar's packages, our licence
// context from the fixtures, and did:key verification methods and controller documents built
// from the DID itself (for Ed25519 the did:key method-specific id is the publicKeyMultibase of an
// Ed25519VerificationKey2020). Anything else is refused.
function ldpDocumentLoader() {
  const docs = new Map([
    ...credentialsContexts,
    ...ed25519Context.contexts,
    ...statusContexts,
    ...didContext.contexts,
    ['https://ezheng.dev/contexts/licence/v1', readJSON(ldp.licenceContext)],
  ]);
  return async (url) => {
    if (docs.has(url)) {
      return { contextUrl: null, documentUrl: url, document: docs.get(url) };
    }
    if (url.startsWith('did:key:z6Mk')) {
      const did = url.split('#')[0];
      const mb = did.slice('did:key:'.length);
      const vmId = `${did}#${mb}`;
      didKeyJWK(vmId); // checks the multicodec and that it is an Ed25519 key
      const vm = {
        '@context': ed25519Context.CONTEXT_URL,
        id: vmId,
        type: 'Ed25519VerificationKey2020',
        controller: did,
        publicKeyMultibase: mb,
      };
      const document = url.includes('#') ? vm : {
        '@context': [didContext.CONTEXT_URL, ed25519Context.CONTEXT_URL],
        id: did,
        verificationMethod: [vm],
        assertionMethod: [vmId],
        authentication: [vmId],
      };
      return { contextUrl: null, documentUrl: url, document };
    }
    throw new Error(`document loader: refusing ${url} (offline)`);
  };
}

check('VCDM 1.1 JSON-LD Ed25519Signature2020 with BitstringStatusListEntry (@digitalbazaar/vc)', async () => {
  const credential = readJSON(ldp.file);
  // The key of the proof must be the published issuer key.
  const { jwk } = didKeyJWK(credential.proof?.verificationMethod ?? '');
  assertEqual(jwk.x, readJSON(ldp.jwk).x, 'proof key vs the published issuer JWK');
  let statusChecked = false;
  const result = await vc.verifyCredential({
    credential,
    suite: new Ed25519Signature2020(),
    documentLoader: ldpDocumentLoader(),
    // The list itself is not reachable offline; the entry is checked here, and the proof
    // (verified before this runs) covers it.
    checkStatus: async ({ credential: c }) => {
      const s = c.credentialStatus;
      assertEqual(s, ldp.status, 'credentialStatus');
      assertEqual(s.type, 'BitstringStatusListEntry', 'credentialStatus.type');
      assertEqual(s.statusPurpose, 'message', 'statusPurpose');
      assert(/^(0|[1-9][0-9]*)$/.test(s.statusListIndex), 'statusListIndex is not a decimal string');
      assertEqual(s.id, `${s.statusListCredential}#${s.statusListIndex}`, 'credentialStatus.id');
      assertEqual(s.statusSize, 2, 'statusSize');
      assertEqual(s.statusMessage.map((m) => m.status), ['0x0', '0x1', '0x2', '0x3'], 'statusMessage values');
      statusChecked = true;
      return { verified: true };
    },
  });
  if (!result.verified) {
    const err = result.error?.errors?.[0] ?? result.error ?? result.results?.[0]?.error;
    throw new Error(`not verified: ${err?.message ?? JSON.stringify(result)}`);
  }
  assert(statusChecked, 'the status entry was not checked');
  assertEqual(credential.issuer, ldp.issuer, 'issuer');
  assertEqual(credential.proof.verificationMethod, ldp.kid, 'verificationMethod');
  assertEqual(credential.id, ldp.id, 'id');
  assertEqual(credential.type, ldp.types, 'type');
  const { id, ...claims } = credential.credentialSubject;
  assertEqual(id, ldp.subject, 'credentialSubject.id');
  assertEqual(claims, ldp.claims, 'credentialSubject');
  return `proof verified (URDNA2015 + Ed25519), status entry: ${credential.credentialStatus.statusPurpose} ` +
    `#${credential.credentialStatus.statusListIndex}, statusSize 2, contexts from @digitalbazaar packages`;
});

// --- run -------------------------------------------------------------------------------------

let passed = 0;
let failed = 0;
for (const { name, fn } of checks) {
  try {
    const details = await fn();
    passed++;
    console.log(`ok   ${name}: ${details}`);
  } catch (err) {
    failed++;
    console.log(`FAIL ${name}: ${err?.message ?? err}`);
  }
}
console.log(`interop: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
