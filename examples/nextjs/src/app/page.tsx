import Link from 'next/link';
import { connection } from 'next/server';
import { authApiUrl } from '../config';

/** Public data only: a server component calls the service with no user's credentials. */
async function serviceStatus(): Promise<'up' | 'down'> {
  try {
    const response = await fetch(`${authApiUrl()}/health/live`, {
      cache: 'no-store',
      signal: AbortSignal.timeout(2_000),
    });
    return response.ok ? 'up' : 'down';
  } catch {
    return 'down';
  }
}

export default async function HomePage() {
  await connection();
  const status = await serviceStatus();
  return (
    <>
      <h1>Fingerprint Auth with Next.js</h1>
      <p>
        This page is a server component. It was rendered on the Next.js server, which does not know
        who you are: the access token lives in your browser&apos;s memory only. It can show public
        data, such as whether the service answers:
      </p>
      <p data-testid="service-status">Service: {status}</p>
      <p>
        Everything about you comes from client components, which call the service from the browser
        with the token: <Link href="/me">your account</Link> and{' '}
        <Link href="/devices">your devices</Link>.
      </p>
    </>
  );
}
