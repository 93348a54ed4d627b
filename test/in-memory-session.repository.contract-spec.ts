import { InMemorySessionRepository } from '../src/sessions/stores/memory/in-memory-session.repository';
import { sessionRepositoryContract } from './contracts/session-repository.contract';

sessionRepositoryContract(
  'InMemorySessionRepository',
  ({ policy, capacity, clock }) => ({
    repository: new InMemorySessionRepository(policy, capacity, clock),
    close: async () => undefined,
  }),
  { boundedCapacity: true },
);
