/**
 * Host step of the kernel suite: check src/vfio/CdevAbi.ts (the VFIO device cdev and iommufd
 * structs and ioctl numbers) against real headers, the same way src/vfio/Abi.test.ts checks
 * Abi.ts: a C program generated from the tables prints every offset, size and constant.
 * The build machine's Linux 6.1 headers predate them, so the suite passes the 6.12 tree's
 * `make headers_install` output; without an argument the system headers are used.
 *
 * Usage: node cdev-abi.js [INCLUDE_DIR]   Exit 0 when everything matches.
 */
import * as Cdev from '../../src/vfio/CdevAbi.ts';
import { compareConstants, compareLayout, UapiCompiler } from '../../src/testkit/node/UapiHeaders.ts';

const include = process.argv[2];
const consts = Object.entries(Cdev as Record<string, unknown>).filter((e): e is [string, number] => typeof e[1] === 'number');
const cc = new UapiCompiler({ headers: ['linux/vfio.h', 'linux/iommufd.h'], includeDirs: include ? [include] : [] });
let failures = 0;
try {
  const { values, present } = cc.facts(Cdev.CDEV_LAYOUTS, consts.map(([n]) => n));
  for (const l of Cdev.CDEV_LAYOUTS) {
    const bad = compareLayout(l, values, present);
    failures += bad.length;
    const fields = Object.values(l.fields).map((f) => `${f.c}@${f.offset}`).join(' ');
    console.log(`${bad.length ? 'FAIL' : 'ok  '} ${l.c} (${values.get(`sizeof|${l.c}`)} B): ${fields}${bad.length ? ` — ${bad.join('; ')}` : ''}`);
  }
  const bad = compareConstants(consts, values);
  failures += bad.length;
  console.log(`${bad.length ? 'FAIL' : 'ok  '} ${consts.length} constants: ${consts.map(([n, v]) => `${n}=0x${v.toString(16)}`).join(' ')}${bad.length ? ` — ${bad.join('; ')}` : ''}`);
  // The comparison itself can fail: a moved field and a wrong number are caught.
  const b = Cdev.BIND_IOMMUFD_LAYOUT;
  const moved = { ...b, fields: { ...b.fields, outDevid: { ...b.fields.outDevid, offset: 8 } } };
  const caught = compareLayout(moved, values, new Map([...present, [moved.fields.outDevid, true]])).length > 0 &&
    compareConstants([['VFIO_DEVICE_BIND_IOMMUFD', 0x3b75]], values).length === 1;
  console.log(`${caught ? 'ok  ' : 'FAIL'} a wrong offset and a wrong ioctl number are reported`);
  if (!caught) failures++;
} catch (err) {
  console.log(`FAIL ${(err as Error).message}`);
  failures++;
} finally {
  cc.dispose();
}
console.log(`RESULT cdev-abi: ${failures ? 'FAIL' : 'PASS'} (headers: ${include ?? 'system'})`);
process.exit(failures ? 1 : 0);
