// Worker entry of a guest VM. Node glue only: the guest itself is runGuestOs (or a test program).
import { parentPort, workerData } from 'node:worker_threads';
import { GuestState } from './GuestChannel.ts';
import { GuestPort, GuestStoppedError } from './GuestPort.ts';
import { guestContext, runGuestOs, type GuestBootData, type GuestProgramModule } from './GuestRuntime.ts';

const data = workerData as GuestBootData;
const port = new GuestPort(data.channel, (line) => parentPort?.postMessage({ type: 'log', line }));
const ctx = guestContext(port, data);
try {
  if (data.program) {
    const mod = (await import(data.program)) as GuestProgramModule;
    port.setState(GuestState.RUNNING);
    await mod.main(ctx);
  } else {
    runGuestOs(ctx);
  }
} catch (err) {
  if (!(err instanceof GuestStoppedError)) throw err;
}
port.setState(GuestState.HALTED);
