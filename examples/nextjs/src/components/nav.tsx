'use client';

import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useState } from 'react';
import { useAuth } from '../auth/auth-provider';

const LABELS = {
  starting: 'Checking your session…',
  'signed-in': 'Signed in',
  'signed-out': 'Not signed in',
  unavailable: 'Service unavailable',
} as const;

export function Nav() {
  const { auth, status } = useAuth();
  const router = useRouter();
  const [busy, setBusy] = useState(false);

  async function logout() {
    if (auth === null) return;
    setBusy(true);
    try {
      // Forgets the token even when the service cannot be reached (and then throws).
      await auth.logout();
    } catch {
      // Signed out here all the same; the session ends at its idle expiry.
    } finally {
      setBusy(false);
    }
    router.push('/login');
  }

  return (
    <nav>
      <Link href="/">Home</Link>
      <Link href="/me">Your account</Link>
      <Link href="/devices">Your devices</Link>
      {status !== 'signed-in' && <Link href="/login">Log in</Link>}
      <span className="status" data-testid="auth-status">
        {LABELS[status]}
      </span>
      {status === 'signed-in' && (
        <button type="button" onClick={logout} disabled={busy}>
          Log out
        </button>
      )}
    </nav>
  );
}
