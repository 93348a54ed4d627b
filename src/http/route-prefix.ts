import { Controller, Type } from '@nestjs/common';

/** Where `@Controller()` keeps its path (Nest's PATH_METADATA, the same key in Nest 11 and 12). */
const PATH_METADATA = 'path';

/**
 * The controller mounted under `prefix` (`'/api'`: `/auth/login` becomes `/api/auth/login`): a
 * subclass of its own with the prefixed path, so the controller class itself, and any other
 * module instance using it, is left as it was. Everything else (routes, guards, docs, injected
 * services) is inherited. No prefix: the controller itself.
 */
export function prefixedController<T>(controller: Type<T>, prefix: string): Type<T> {
  if (prefix === '') return controller;
  const path = Reflect.getMetadata(PATH_METADATA, controller) as string | string[] | undefined;
  const paths = (Array.isArray(path) ? path : [path ?? '']).map((own) =>
    `${prefix}/${own.replace(/^\/+/, '')}`.replace(/\/+$/, ''),
  );
  const prefixed = class extends (controller as Type<object>) {};
  Object.defineProperty(prefixed, 'name', { value: controller.name });
  Controller(paths.length === 1 ? paths[0] : paths)(prefixed);
  return prefixed as Type<T>;
}
