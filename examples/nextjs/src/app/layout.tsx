import type { Metadata } from 'next';
import { connection } from 'next/server';
import type { ReactNode } from 'react';
import { AuthProvider } from '../auth/auth-provider';
import { Nav } from '../components/nav';
import { authApiUrl } from '../config';
import './globals.css';

export const metadata: Metadata = {
  title: 'Fingerprint Auth: Next.js example',
};

/**
 * A server component: it renders the page shell and hands the client the one thing it needs from
 * the server, the service's address. It never sees the user's access token (that lives in the
 * browser's memory, inside AuthProvider), so it renders nothing that depends on the user.
 */
export default async function RootLayout({ children }: { children: ReactNode }) {
  await connection(); // render per request, so AUTH_API_URL is read at run time
  return (
    <html lang="en">
      <body>
        <AuthProvider apiUrl={authApiUrl()}>
          <Nav />
          <main>{children}</main>
        </AuthProvider>
      </body>
    </html>
  );
}
