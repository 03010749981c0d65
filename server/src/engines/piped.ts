// Bodies for a response whose write() someone else has wrapped (Express's
// `compression`, response loggers, anything that transforms the body). The
// other engines write around res.write (zero-copy goes straight to the
// socket; copy first waits for a write callback, which such wrappers may
// drop), so here the bytes go through res.write itself from the start, as
// serve-static's streams do, with back-pressure from 'drain'.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ServerResponse as NodeServerResponse } from 'node:http';
import type { Body } from '../body';
import { BodyPump } from './copy';
import type { Engine, SendDone } from './types';

/** Node's own write: anything else on a response means a wrapper. */
const NODE_WRITE = NodeServerResponse.prototype.write;

export function isWriteWrapped(res: ServerResponse): boolean {
  return res.write !== NODE_WRITE;
}

/** Whether `res` can no longer take bytes: closed before everything was handed to it. */
function isClosedEarly(res: ServerResponse): boolean {
  return res.destroyed && !res.writableFinished;
}

export const pipedEngine: Engine = {
  name: 'copy',
  send(_req: IncomingMessage, res: ServerResponse, body: Body, done: SendDone): void {
    new BodyPump(res, body, () => isClosedEarly(res), done).start();
  },
};
