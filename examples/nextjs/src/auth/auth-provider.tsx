'use client';

import { createAuthClient, FingerprintAuthError } from 'fingerprint-auth/client';
import type { AuthClient } from 'fingerprint-auth/client';
import { createContext, useContext, useEffect, useState } from 'react';
import type { ReactNode } from 'react';

/**
 * - `starting`: the page just loaded and the start-up refresh has not answered yet;
 * - `signed-in`: the client holds an access token;
 * - `signed-out`: the browser has no session (never logged in, logged out, revoked, expired);
 * - `unavailable`: the start-up refresh failed for another reason (network, 429, 503), so whether
 *   the browser still has a session is not known; a login or the next guarded call tries again.
 */
export type AuthStatus = 'starting' | 'signed-in' | 'signed-out' | 'unavailable';

export interface AuthState {
  /** The app's one client; null only before the first effect has run (and on the server). */
  readonly auth: AuthClient | null;
  readonly status: AuthStatus;
  readonly sessionId: string | null;
  /** Why the status is `unavailable`. */
  readonly problem: string | null;
}

const AuthContext = createContext<AuthState | null>(null);

/*
 * One client per page load, created in the browser and kept in module scope, not in a component:
 * React may run state initialisers and effects twice (Strict Mode), and a second client would join
 * the tab channel again and send a second start-up refresh. It is never created on the server,
 * where one module instance serves every visitor. The token stays inside it, in memory: nothing
 * here writes it to localStorage, sessionStorage or a cookie.
 */
let client: AuthClient | null = null;
let startUp: Promise<AuthStatus> | null = null;
let startUpProblem: string | null = null;

function browserClient(apiUrl: string): AuthClient {
  client ??= createAuthClient({ baseUrl: apiUrl });
  return client;
}

/**
 * A reload loses the token on purpose; the HttpOnly refresh cookie may still hold a session, and
 * `refresh()` trades it for a new token (docs/client.md, "Usage"). A 401 means there is none.
 */
function startOnce(auth: AuthClient): Promise<AuthStatus> {
  startUp ??= auth.refresh().then(
    (): AuthStatus => 'signed-in',
    (error: unknown): AuthStatus => {
      if (error instanceof FingerprintAuthError && error.status === 401) return 'signed-out';
      startUpProblem =
        error instanceof FingerprintAuthError
          ? `The service answered ${error.status}: ${error.message}`
          : 'The service cannot be reached.';
      return 'unavailable';
    },
  );
  return startUp;
}

function stateOf(auth: AuthClient, fallback: AuthStatus): AuthState {
  if (auth.accessToken !== null) {
    return { auth, status: 'signed-in', sessionId: auth.sessionId, problem: null };
  }
  return {
    auth,
    status: fallback,
    sessionId: null,
    problem: fallback === 'unavailable' ? startUpProblem : null,
  };
}

/** Gives every component below it the app's client and whether the user is signed in. */
export function AuthProvider({ apiUrl, children }: { apiUrl: string; children: ReactNode }) {
  const [state, setState] = useState<AuthState>({
    auth: null,
    status: 'starting',
    sessionId: null,
    problem: null,
  });

  useEffect(() => {
    const auth = browserClient(apiUrl);
    let live = true;
    // A login, a refresh (on the timer or after a 401) or a token from another tab.
    const stopToken = auth.addEventListener('token', (event) =>
      setState({ auth, status: 'signed-in', sessionId: event.sessionId, problem: null }),
    );
    // Logout, revocation (here, on another device or in another tab), a refused refresh.
    const stopLoggedOut = auth.addEventListener('loggedout', () =>
      setState({ auth, status: 'signed-out', sessionId: null, problem: null }),
    );
    setState(stateOf(auth, 'starting'));
    void startOnce(auth).then((outcome) => {
      if (live)
        setState((previous) =>
          previous.status === 'starting' ? stateOf(auth, outcome) : previous,
        );
    });
    return () => {
      live = false;
      stopToken();
      stopLoggedOut();
    };
  }, [apiUrl]);

  return <AuthContext.Provider value={state}>{children}</AuthContext.Provider>;
}

/** The app's auth state; only inside AuthProvider. */
export function useAuth(): AuthState {
  const state = useContext(AuthContext);
  if (state === null) throw new Error('useAuth() needs an <AuthProvider> above it');
  return state;
}
