'use client';

import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useAuth } from '../../auth/auth-provider';
import { useFormAction } from '../../auth/use-form-action';

export default function LoginPage() {
  const { auth, status } = useAuth();
  const router = useRouter();
  const { submit, problem, busy } = useFormAction(async (form) => {
    if (auth === null) return;
    // Keeps the token in memory, and the browser keeps the HttpOnly cookies the answer sets.
    await auth.login({
      email: String(form.get('email')),
      password: String(form.get('password')),
    });
    router.push('/me');
  }, 'Wrong email or password.');

  return (
    <>
      <h1>Log in</h1>
      {status === 'signed-in' && (
        <p>
          You are signed in already: see <Link href="/me">your account</Link>. Logging in again
          starts a new session.
        </p>
      )}
      <form onSubmit={submit}>
        <label>
          Email
          <input name="email" type="email" autoComplete="username" required />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" required />
        </label>
        <button type="submit" disabled={busy || auth === null}>
          Log in
        </button>
        {problem && (
          <p className="problem" role="alert">
            {problem}
          </p>
        )}
      </form>
      <p>
        No account yet? <Link href="/register">Create one</Link>.
      </p>
    </>
  );
}
