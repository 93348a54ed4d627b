'use client';

import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useState } from 'react';
import type { FormEvent } from 'react';
import { useAuth } from '../../auth/auth-provider';
import { describeError } from '../../auth/messages';

export default function RegisterPage() {
  const { auth } = useAuth();
  const router = useRouter();
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (auth === null) return;
    const form = new FormData(event.currentTarget);
    const email = String(form.get('email'));
    const password = String(form.get('password'));
    const displayName = String(form.get('displayName')).trim();
    setBusy(true);
    setProblem(null);
    try {
      // Registering does not log in; logging in right after does.
      await auth.register({ email, password, ...(displayName ? { displayName } : {}) });
      await auth.login({ email, password });
      router.push('/me');
    } catch (error) {
      setProblem(describeError(error));
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <h1>Create an account</h1>
      <form onSubmit={submit}>
        <label>
          Email
          <input name="email" type="email" autoComplete="username" required />
        </label>
        <label>
          Name (optional)
          <input name="displayName" type="text" autoComplete="name" />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="new-password" required />
        </label>
        <button type="submit" disabled={busy || auth === null}>
          Create account
        </button>
        {problem && (
          <p className="problem" role="alert">
            {problem}
          </p>
        )}
      </form>
      <p>
        Have an account? <Link href="/login">Log in</Link>.
      </p>
    </>
  );
}
