'use client';

import { FingerprintAuthError } from 'fingerprint-auth/client';
import type { SessionEntry } from 'fingerprint-auth/client';
import { useCallback, useEffect, useState } from 'react';
import { useAuth } from '../../auth/auth-provider';
import { describeError } from '../../auth/messages';
import { SignedOut } from '../../components/signed-out';

function deviceText({ device }: SessionEntry): string {
  const name = [device.browser, device.os].filter((part) => part !== null).join(' on ');
  return `${name || 'Unknown browser'} (${device.type})`;
}

function locationText({ location }: SessionEntry): string {
  if (location === null) return 'Unknown';
  return [location.city, location.region, location.countryName].filter(Boolean).join(', ');
}

const when = (iso: string) => new Date(iso).toLocaleString();

/** The user's sessions, one per device, with the means to end any of them. */
export default function DevicesPage() {
  const { auth, status } = useAuth();
  const [sessions, setSessions] = useState<readonly SessionEntry[] | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  /**
   * Runs one call to the service. A 401 with no token left means the session is over (the
   * provider hears `loggedout` and the page shows the login link); with a token, try again.
   */
  const run = useCallback(
    async (task: () => Promise<void>) => {
      setBusy(true);
      setProblem(null);
      try {
        await task();
      } catch (error) {
        const refused = error instanceof FingerprintAuthError && error.status === 401;
        if (refused && auth?.accessToken == null) setSessions(null);
        else setProblem(describeError(error, 'The service refused the request; try again.'));
      } finally {
        setBusy(false);
      }
    },
    [auth],
  );

  const load = useCallback(
    () =>
      run(async () => {
        if (auth !== null) setSessions(await auth.sessions.list());
      }),
    [auth, run],
  );

  useEffect(() => {
    if (status === 'signed-in' || status === 'unavailable') void load();
    else if (status === 'signed-out') setSessions(null);
  }, [status, load]);

  if (status === 'starting') return <p>Loading…</p>;
  if (status === 'signed-out' || auth === null) {
    return (
      <>
        <h1>Your devices</h1>
        <SignedOut />
      </>
    );
  }

  const revoke = (entry: SessionEntry) =>
    run(async () => {
      // Ending the current session logs this browser out (every tab of it).
      await auth.sessions.revoke(entry.id);
      setNotice(entry.current ? 'You logged out this device.' : 'The session was ended.');
      if (!entry.current) setSessions(await auth.sessions.list());
    });

  const logoutAll = () =>
    run(async () => {
      const { revoked } = await auth.sessions.logoutAll();
      setNotice(`Ended ${revoked} other session${revoked === 1 ? '' : 's'}.`);
      setSessions(await auth.sessions.list());
    });

  return (
    <>
      <h1>Your devices</h1>
      <p>Every browser signed in to your account. End any session you do not recognise.</p>
      {notice && <p role="status">{notice}</p>}
      {problem && (
        <p className="problem" role="alert">
          {problem}
        </p>
      )}
      {sessions === null ? (
        <p>Loading…</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Device</th>
              <th>Location</th>
              <th>IP address</th>
              <th>Last activity</th>
              <th>Signed in</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {sessions.map((entry) => (
              <tr key={entry.id} data-session-id={entry.id}>
                <td data-testid="device">{deviceText(entry)}</td>
                <td data-testid="location">{locationText(entry)}</td>
                <td>{entry.ipAddress}</td>
                <td data-testid="last-activity">{when(entry.lastActivity)}</td>
                <td>{when(entry.createdAt)}</td>
                <td>
                  {entry.current && <strong>This device </strong>}
                  <button type="button" onClick={() => void revoke(entry)} disabled={busy}>
                    {entry.current ? 'Log out' : 'Revoke'}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p>
        <button type="button" onClick={() => void logoutAll()} disabled={busy}>
          Log out all other devices
        </button>{' '}
        <button type="button" onClick={() => void load()} disabled={busy}>
          Refresh the list
        </button>
      </p>
    </>
  );
}
