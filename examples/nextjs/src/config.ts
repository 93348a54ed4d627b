/**
 * Where the fingerprint-auth service is, as the browser reaches it (its origin, with the route
 * prefix if the service has one). Read from the environment when a request comes, not at build
 * time, so one build runs against any service: `AUTH_API_URL=https://api.example.com next start`.
 * Server components only (the root layout passes it down to the browser's client).
 */
export function authApiUrl(): string {
  return process.env.AUTH_API_URL ?? 'http://localhost:3000';
}
