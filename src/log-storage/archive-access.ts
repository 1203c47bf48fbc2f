import { Injectable } from '@nestjs/common';
import { KeyedLock } from '../common/keyed-lock';
import { SharedExclusive } from './shared-exclusive';

/**
 * What the archive's services share to stay consistent: one lock per conversation (a save and a compression
 * of one file never overlap), shared access for saves and exclusive access for a rebuild or a retention run,
 * and the clock retention and compression measure days against.
 */
@Injectable()
export class ArchiveAccess {
  readonly locks = new KeyedLock();
  readonly gate = new SharedExclusive();
  now: () => Date = () => new Date();

  /** `work` holding the conversation's lock, sharing the archive with other such work. */
  forConversation<T>(conversationId: string, work: () => Promise<T>): Promise<T> {
    return this.gate.shared(() => this.locks.run(conversationId, work));
  }

  /** `work` sharing the archive (a check reading it through): a rebuild or a retention run waits for it to finish. */
  shared<T>(work: () => Promise<T>): Promise<T> {
    return this.gate.shared(work);
  }

  /** `work` alone, once the shared work under way has finished. */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.gate.exclusive(work);
  }
}
