// The udmabuf ABI against the machine's <linux/udmabuf.h> (the same generated-C check as
// src/vfio/Abi.test.ts), and createUdmabuf's calls through a libc that plays the kernel. The real
// ioctl runs in the kernel suite (test/kernel/vm/qemu-dmabuf.ts): this host has no /dev/udmabuf.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { readLayout } from '../vfio/StructLayout.ts';
import { compareConstants, compareLayout, UapiCompiler, type HeaderFacts } from '../testkit/node/UapiHeaders.ts';
import { F_ADD_SEALS, F_GET_SEALS, F_SEAL_SHRINK, MFD_ALLOW_SEALING, MFD_CLOEXEC, O_CLOEXEC, O_RDWR, libc, type Libc } from './Libc.ts';
import { createUdmabuf, UDMABUF_CREATE, UDMABUF_CREATE_LAYOUT, UDMABUF_DEVICE, UDMABUF_FLAGS_CLOEXEC } from './Udmabuf.ts';

const CONSTANTS: Array<[string, number]> = [
  ['UDMABUF_CREATE', UDMABUF_CREATE], ['UDMABUF_FLAGS_CLOEXEC', UDMABUF_FLAGS_CLOEXEC],
  ['MFD_ALLOW_SEALING', MFD_ALLOW_SEALING], ['MFD_CLOEXEC', MFD_CLOEXEC],
  ['F_ADD_SEALS', F_ADD_SEALS], ['F_GET_SEALS', F_GET_SEALS], ['F_SEAL_SHRINK', F_SEAL_SHRINK],
];

let cc: UapiCompiler;
let facts: HeaderFacts;

before(() => {
  cc = new UapiCompiler({ headers: ['linux/udmabuf.h', 'linux/memfd.h', 'linux/fcntl.h'] });
  facts = cc.facts([UDMABUF_CREATE_LAYOUT], CONSTANTS.map(([n]) => n));
});

after(() => cc?.dispose());

describe('udmabuf ABI matches <linux/udmabuf.h>', () => {
  test('struct udmabuf_create: 24 bytes, memfd/flags/offset/size', () => {
    assert.equal(facts.values.get('sizeof|struct udmabuf_create'), 24);
    assert.deepEqual(compareLayout(UDMABUF_CREATE_LAYOUT, facts.values, facts.present), []);
  });

  test('UDMABUF_CREATE, the flags and the memfd seal constants', () => {
    assert.deepEqual(compareConstants(CONSTANTS, facts.values), []);
    assert.equal(compareConstants([['UDMABUF_CREATE', 0x40187543]], facts.values).length, 1, 'a wrong number is caught');
  });
});

/** The real libc for memfds; /dev/udmabuf and its ioctl played like the kernel's udmabuf.c. */
function kernelDouble(result: { fd: number; errno: number }): { c: Libc; calls: string[]; args: Uint8Array[]; open: Set<number> } {
  const real = libc();
  const calls: string[] = [];
  const args: Uint8Array[] = [];
  const open = new Set<number>();
  let errno = 0;
  const c: Libc = {
    ...real,
    open: (path, flags) => {
      calls.push(`open ${path} ${flags}`);
      const fd = 900 + open.size;
      open.add(fd);
      return fd;
    },
    ioctlPtr: (fd, request, arg) => {
      calls.push(`ioctl ${fd} 0x${request.toString(16)}`);
      args.push(new Uint8Array(arg!));
      errno = result.errno;
      return result.fd;
    },
    close: (fd) => {
      calls.push(`close ${fd}`);
      return open.delete(fd) ? 0 : real.close(fd);
    },
    errno: () => errno,
  };
  return { c, calls, args, open };
}

describe('createUdmabuf', () => {
  test('opens /dev/udmabuf, passes struct udmabuf_create with CLOEXEC, closes the device fd', () => {
    const k = kernelDouble({ fd: 42, errno: 0 });
    assert.equal(createUdmabuf(7, 4096, 3 * 4096, k.c), 42);
    assert.deepEqual(k.calls, [`open ${UDMABUF_DEVICE} ${O_RDWR | O_CLOEXEC}`, 'ioctl 900 0x40187542', 'close 900']);
    assert.deepEqual(readLayout(UDMABUF_CREATE_LAYOUT, k.args[0]!), { memfd: 7, flags: UDMABUF_FLAGS_CLOEXEC, offset: 4096n, size: 12288n });
    assert.equal(k.open.size, 0, 'no device fd left open');
  });

  test('a refused create returns -errno and still closes the device fd', () => {
    const k = kernelDouble({ fd: -1, errno: 22 });
    assert.equal(createUdmabuf(7, 0, 100, k.c), -22);
    assert.equal(k.open.size, 0, 'no device fd left open');
  });

  test('the real device: -ENOENT where the kernel has none, -EINVAL for an unsealed memfd where it has one', () => {
    const c = libc();
    const fd = c.open(UDMABUF_DEVICE, O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
      c.close(fd);
      const m = c.memfdCreate('udmabuf-test', MFD_CLOEXEC);
      try {
        assert.equal(createUdmabuf(m, 0, 4096), -22, 'an unsealed memfd is refused with EINVAL');
      } finally {
        c.close(m);
      }
    } else {
      assert.equal(createUdmabuf(0, 0, 4096), -2);
    }
  });
});
