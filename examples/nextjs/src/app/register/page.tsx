'use client';

import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useAuth } from '../../auth/auth-provider';
import { useFormAction } from '../../auth/use-form-action';

export default function RegisterPage() {
  const { auth } = useAuth();
  const router = useRouter();
  const { submit, problem, busy } = useFormAction(async (form) => {
    if (auth === null) return;
    const email = String(form.get('email'));
    const password = String(form.get('password'));
    const displayName = String(form.get('displayName')).trim();
    // Registering does not log in; logging in right after does.
    await auth.register({ email, password, ...(displayName ? { displayName } : {}) });
    await auth.login({ email, password });
    router.push('/me');
  });

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
