// issue.mjs is the other direction of the interop check: it issues credentials with independent
// libraries, for ezheng's verifier (scripts/interop/check) to accept.
//
// Usage: node scripts/interop/issue.mjs DIR
//
// Writes into DIR, with fresh keys named by did:jwk DIDs:
//   js-vcdm2-eddsa.jwt     VCDM 2.0 vc+jwt signed with panva's jose (SignJWT, EdDSA)
//   js-jwtvc11-es256.jwt   VCDM 1.1 JWT-VC made by did-jwt-vc createVerifiableCredentialJwt (ES256)
// Each credential's subject has givenName "Mei", which the Go side checks.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import * as jose from 'jose';
import { ES256Signer } from 'did-jwt';
import { createVerifiableCredentialJwt } from 'did-jwt-vc';

const dir = process.argv[2];
if (!dir || process.argv.length !== 3) {
  console.error('usage: node issue.mjs DIR');
  process.exit(2);
}

// didJWK returns a fresh key pair for alg and the did:jwk DID and kid of its public key.
async function didJWK(alg, opts) {
  const { publicKey, privateKey } = await jose.generateKeyPair(alg, { ...opts, extractable: true });
  const { kty, crv, x, y } = await jose.exportJWK(publicKey);
  const did = `did:jwk:${Buffer.from(JSON.stringify({ kty, crv, x, y })).toString('base64url')}`;
  return { did, kid: `${did}#0`, publicKey, privateKey };
}

const now = Math.floor(Date.now() / 1000);
const subject = {
  id: 'did:example:holder-0001',
  givenName: 'Mei',
  familyName: 'Zheng',
  birthDate: '1990-02-03',
};

// VCDM 2.0, secured with JOSE: the payload is the credential.
{
  const k = await didJWK('EdDSA', { crv: 'Ed25519' });
  const credential = {
    '@context': ['https://www.w3.org/ns/credentials/v2'],
    id: `urn:uuid:${crypto.randomUUID()}`,
    type: ['VerifiableCredential', 'DrivingLicenceCredential'],
    issuer: { id: k.did, name: 'Issued by jose' },
    validFrom: new Date((now - 3600) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    validUntil: new Date((now + 86400) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    credentialSubject: subject,
  };
  const jwt = await new jose.SignJWT(credential)
    .setProtectedHeader({ alg: 'EdDSA', typ: 'vc+jwt', cty: 'vc', kid: k.kid })
    .sign(k.privateKey);
  writeFileSync(join(dir, 'js-vcdm2-eddsa.jwt'), jwt);
}

// VCDM 1.1 JWT-VC, encoded by did-jwt-vc (iss, sub, nbf, exp, jti and "vc").
{
  const k = await didJWK('ES256');
  const d = Buffer.from((await jose.exportJWK(k.privateKey)).d, 'base64url');
  const jwt = await createVerifiableCredentialJwt(
    {
      sub: subject.id,
      nbf: now - 3600,
      exp: now + 86400,
      jti: `urn:uuid:${crypto.randomUUID()}`,
      vc: {
        '@context': ['https://www.w3.org/2018/credentials/v1'],
        type: ['VerifiableCredential', 'DrivingLicenceCredential'],
        credentialSubject: { givenName: subject.givenName, familyName: subject.familyName },
      },
    },
    { did: k.did, signer: ES256Signer(d), alg: 'ES256' },
    { header: { kid: k.kid } },
  );
  writeFileSync(join(dir, 'js-jwtvc11-es256.jwt'), jwt);
}
