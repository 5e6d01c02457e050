// RS256 and ES256 key pairs and one token per algorithm, made fresh at bench start with jose. Every
// contender receives the same two Authorization headers, half the requests each.
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';

export interface BenchToken {
  readonly alg: 'RS256' | 'ES256';
  readonly kid: string;
  readonly subject: string;
  readonly publicKeyPem: string;
  readonly token: string;
}

export async function makeTokens(): Promise<BenchToken[]> {
  const out: BenchToken[] = [];
  for (const [alg, kid] of [
    ['RS256', 'bench-rs'],
    ['ES256', 'bench-es'],
  ] as const) {
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
    const subject = `bench-user-${alg.toLowerCase()}`;
    const token = await new SignJWT({ roles: ['reader'] })
      .setProtectedHeader({ alg, kid, typ: 'JWT' })
      .setSubject(subject)
      .setIssuedAt()
      .setExpirationTime('6h')
      .sign(privateKey);
    out.push({ alg, kid, subject, publicKeyPem: await exportSPKI(publicKey), token });
  }
  return out;
}
