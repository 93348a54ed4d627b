import { UAParser } from 'ua-parser-js';
import { MAX_USER_AGENT_LENGTH } from '../http/client';

import type { Device, DeviceType } from '../http/contract';

export type { Device, DeviceType };

const BOT = /bot|crawl|spider|slurp|curl\/|wget\/|python-requests|headless/i;
const DESKTOP_OS =
  /^(windows|mac os|macos|linux|ubuntu|debian|fedora|chrom(e|ium) os|freebsd|openbsd|netbsd|solaris)/i;

/** Reads browser, OS and device type from a user agent (ua-parser-js; cut to 512 characters first). */
export function parseDevice(userAgent: string): Device {
  const ua = userAgent.slice(0, MAX_USER_AGENT_LENGTH);
  if (ua === '') return { browser: null, os: null, type: 'unknown' };
  const result = new UAParser(ua).getResult();
  const browser = result.browser.name
    ? [result.browser.name, result.browser.major].filter(Boolean).join(' ')
    : null;
  const osName = result.os.name === 'Mac OS' ? 'macOS' : result.os.name;
  const os = osName ? [osName, result.os.version].filter(Boolean).join(' ') : null;
  return { browser, os, type: deviceType(ua, result.device.type, result.os.name) };
}

function deviceType(ua: string, type: string | undefined, osName: string | undefined): DeviceType {
  if (BOT.test(ua)) return 'bot';
  if (type === 'mobile' || type === 'tablet') return type;
  if (type === undefined && osName !== undefined && DESKTOP_OS.test(osName)) return 'desktop';
  return 'unknown';
}
