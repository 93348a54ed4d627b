import { fileURLToPath } from 'node:url';

/*
 * This example installs fingerprint-auth from the repository (`file:../..`), so npm links the
 * package and the client's files live two directories up. Both roots point at the repository so
 * that Turbopack reads them there (and Next.js does not guess the root from the two lock files).
 * An app that installs the package from the registry needs neither setting.
 */
const repository = fileURLToPath(new URL('../..', import.meta.url));

/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  turbopack: { root: repository },
  outputFileTracingRoot: repository,
};

export default nextConfig;
