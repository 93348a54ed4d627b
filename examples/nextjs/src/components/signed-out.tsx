import Link from 'next/link';

/** What a page that needs the user shows to a browser without a session. */
export function SignedOut() {
  return (
    <p data-testid="signed-out">
      You are not signed in. <Link href="/login">Log in</Link> or{' '}
      <Link href="/register">create an account</Link>.
    </p>
  );
}
