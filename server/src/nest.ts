// `sluice/nest`: a drop-in for @nestjs/serve-static's ServeStaticModule.
// The same ServeStaticModuleOptions, the same forRoot(...options) and
// forRootAsync(), the same routes and errors; the files go out through
// sluice (serveStatic and sendFile under Express, sluice/fastify under
// Fastify). Written as plain dynamic modules with factory providers, so it
// needs no decorator metadata from the compiler.
//
//   @Module({ imports: [SluiceServeStaticModule.forRoot({ rootPath: join(__dirname, '..', 'client') })] })
import type { DynamicModule, Provider } from '@nestjs/common';
import { ApplicationConfig, HttpAdapterHost, type AbstractHttpAdapter } from '@nestjs/core';
import { registerExpress, type AdapterRequests, type ExpressApp } from './nest/express-loader';
import { registerFastify } from './nest/fastify-loader';
import {
  SERVE_STATIC_MODULE_OPTIONS,
  type ServeStaticModuleAsyncOptions,
  type ServeStaticModuleOptions,
  type ServeStaticModuleOptionsFactory,
} from './nest/options';

export {
  DEFAULT_EXPRESS_RENDER_PATH,
  DEFAULT_FASTIFY_RENDER_PATH,
  DEFAULT_ROOT_PATH,
  SERVE_STATIC_MODULE_OPTIONS,
  type ServeStaticModuleAsyncOptions,
  type ServeStaticModuleOptions,
  type ServeStaticModuleOptionsFactory,
  type ServeStaticOptions,
} from './nest/options';

/** The token of the provider that mounts the files when the module initialises. */
export const SLUICE_SERVE_STATIC_LOADER = 'SLUICE_SERVE_STATIC_LOADER';

/** Which platform an adapter is, as @nestjs/serve-static tells them apart. */
export function platformOf(adapter: AbstractHttpAdapter | undefined): 'express' | 'fastify' | null {
  if (!adapter) return null;
  return adapter.constructor?.name === 'FastifyAdapter' ? 'fastify' : 'express';
}

/** Mounts every ServeStaticModuleOptions on the application's HTTP adapter. */
export function register(adapter: AbstractHttpAdapter | undefined, config: ApplicationConfig, all: ServeStaticModuleOptions[]): void {
  const platform = platformOf(adapter);
  if (adapter === undefined || platform === null) return;
  const globalPrefix = config.getGlobalPrefix();
  const app: unknown = adapter.getInstance();
  for (const options of all) {
    if (platform === 'fastify') registerFastify(app, globalPrefix, options);
    else registerExpress(app as ExpressApp, adapter as unknown as AdapterRequests, globalPrefix, options);
  }
}

/** Mounts at onModuleInit, after the application's routes, before Nest's not-found handler (as @nestjs/serve-static). */
const loader: Provider = {
  provide: SLUICE_SERVE_STATIC_LOADER,
  useFactory: (host: HttpAdapterHost | undefined, config: ApplicationConfig, options: ServeStaticModuleOptions[]) => ({
    onModuleInit: () => register(host?.httpAdapter, config, options),
  }),
  inject: [HttpAdapterHost, ApplicationConfig, SERVE_STATIC_MODULE_OPTIONS],
};

function asyncOptionsProvider(options: ServeStaticModuleAsyncOptions): Provider {
  if (options.useFactory) {
    return { provide: SERVE_STATIC_MODULE_OPTIONS, useFactory: options.useFactory, inject: options.inject || [] };
  }
  const factory = options.useExisting ?? options.useClass;
  if (factory === undefined) throw new TypeError('forRootAsync needs useFactory, useClass or useExisting');
  return {
    provide: SERVE_STATIC_MODULE_OPTIONS,
    useFactory: async (f: ServeStaticModuleOptionsFactory) => f.createLoggerOptions(),
    inject: [factory],
  };
}

function asyncProviders(options: ServeStaticModuleAsyncOptions): Provider[] {
  const provider = asyncOptionsProvider(options);
  if (options.useExisting || options.useFactory || options.useClass === undefined) return [provider];
  return [provider, { provide: options.useClass, useClass: options.useClass }];
}

/** @nestjs/serve-static's ServeStaticModule, serving through sluice. */
export class SluiceServeStaticModule {
  /** Serves each `options` (one static app per object). */
  static forRoot(...options: ServeStaticModuleOptions[]): DynamicModule {
    return {
      module: SluiceServeStaticModule,
      providers: [{ provide: SERVE_STATIC_MODULE_OPTIONS, useValue: options }, loader],
    };
  }

  /** The options from a factory, a class or an existing provider (its `createLoggerOptions()`). */
  static forRootAsync(options: ServeStaticModuleAsyncOptions): DynamicModule {
    return {
      module: SluiceServeStaticModule,
      imports: options.imports,
      providers: [...asyncProviders(options), ...(options.extraProviders || []), loader],
      exports: [SERVE_STATIC_MODULE_OPTIONS],
    };
  }
}

/** @nestjs/serve-static's name for it: `import { ServeStaticModule } from 'sluice/nest'`. */
export const ServeStaticModule = SluiceServeStaticModule;
export type ServeStaticModule = SluiceServeStaticModule;
