// A GET (or any method) whose whole body is read, for suites that check bytes.
import { request, type Dispatcher } from 'undici';

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export function getter(base: () => string, dispatcher: () => Dispatcher) {
  return async (path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> => {
    const res = await request(`${base()}${path}`, { method: method as 'GET', headers, dispatcher: dispatcher() });
    const body = Buffer.from(await res.body.arrayBuffer());
    return { status: res.statusCode, headers: res.headers, body };
  };
}
