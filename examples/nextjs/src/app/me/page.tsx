'use client';

import type { MeResponse } from 'fingerprint-auth/client';
import { useCallback, useEffect, useState } from 'react';
import { useAuth } from '../../auth/auth-provider';
import { describeError } from '../../auth/messages';
import { SignedOut } from '../../components/signed-out';

const REFUSED = 'The service refused the request; try again.';

type Result =
  | { readonly kind: 'idle' }
  | { readonly kind: 'loading' }
  | { readonly kind: 'ok'; readonly me: MeResponse }
  | { readonly kind: 'signed-out' }
  | { readonly kind: 'problem'; readonly message: string };

/**
 * A guarded route called from a client component through the client's `fetch`: it adds the
 * bearer token, the browser adds the fingerprint cookie, and a 401 refreshes once and retries.
 * Your own guarded routes under the service's address are called the same way.
 */
export default function MePage() {
  const { auth, status } = useAuth();
  const [result, setResult] = useState<Result>({ kind: 'idle' });

  const load = useCallback(async () => {
    if (auth === null) return;
    setResult({ kind: 'loading' });
    try {
      const response = await auth.fetch('/auth/me');
      // A 401 after the client's refresh and retry: signed out if the refresh was refused (the
      // client then holds no token); otherwise the token changed under the request, and a second
      // try will do.
      if (response.status === 401 && auth.accessToken === null) setResult({ kind: 'signed-out' });
      else if (response.status === 401) setResult({ kind: 'problem', message: REFUSED });
      else if (!response.ok)
        setResult({ kind: 'problem', message: `The service answered ${response.status}.` });
      else setResult({ kind: 'ok', me: (await response.json()) as MeResponse });
    } catch (error) {
      setResult({ kind: 'problem', message: describeError(error) });
    }
  }, [auth]);

  // Load once the start-up refresh has told whether there is a session; forget the user when
  // the session ends (logout here, in another tab, or revoked from another device).
  useEffect(() => {
    if (status === 'signed-in' || status === 'unavailable') void load();
    else if (status === 'signed-out') setResult({ kind: 'signed-out' });
  }, [status, load]);

  return (
    <>
      <h1>Your account</h1>
      {(result.kind === 'idle' || result.kind === 'loading') && <p>Loading…</p>}
      {result.kind === 'signed-out' && <SignedOut />}
      {result.kind === 'problem' && (
        <p className="problem" role="alert">
          {result.message}
        </p>
      )}
      {result.kind === 'ok' && (
        <dl>
          <dt>Email</dt>
          <dd data-testid="me-email">{result.me.email}</dd>
          <dt>Name</dt>
          <dd>{result.me.displayName ?? '(none)'}</dd>
          <dt>User id</dt>
          <dd>{result.me.id}</dd>
          <dt>This session</dt>
          <dd data-testid="me-session">{result.me.sessionId}</dd>
        </dl>
      )}
      <button
        type="button"
        onClick={() => void load()}
        disabled={auth === null || result.kind === 'loading'}
      >
        Check again
      </button>
    </>
  );
}
