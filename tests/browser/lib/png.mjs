// A small PNG decoder (8-bit RGB / RGBA, non-interlaced: what Chromium's screenshots are) using
// zlib from node core, and pixel statistics to tell a drawn page from a blank one.
import zlib from 'node:zlib';

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function decodePng(buffer) {
  if (!buffer.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG file');
  let offset = 8;
  let header = null;
  const idat = [];
  while (offset < buffer.length) {
    const length = buffer.readUInt32BE(offset);
    const type = buffer.toString('latin1', offset + 4, offset + 8);
    const body = buffer.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      header = {width: body.readUInt32BE(0), height: body.readUInt32BE(4), bitDepth: body[8], colorType: body[9],
                interlace: body[12]};
    } else if (type === 'IDAT') {
      idat.push(body);
    } else if (type === 'IEND') {
      break;
    }
    offset += 12 + length;
  }
  if (!header) throw new Error('PNG without IHDR');
  const channels = {2: 3, 6: 4}[header.colorType];
  if (header.bitDepth !== 8 || !channels || header.interlace !== 0)
    throw new Error(`unsupported PNG: bit depth ${header.bitDepth}, colour type ${header.colorType}`);
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = header.width * channels;
  const data = Buffer.alloc(stride * header.height);
  for (let y = 0; y < header.height; ++y) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; ++x) {
      const a = x >= channels ? data[y * stride + x - channels] : 0;            // left
      const b = y > 0 ? data[(y - 1) * stride + x] : 0;                         // up
      const c = x >= channels && y > 0 ? data[(y - 1) * stride + x - channels] : 0;  // up-left
      let v = line[x];
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else if (filter !== 0) throw new Error(`bad PNG filter ${filter}`);
      data[y * stride + x] = v & 0xff;
    }
  }
  return {width: header.width, height: header.height, channels, data};
}

// Share of pixels that are not near-white, luminance variance, and distinct (coarse) colours.
export function imageStats(image) {
  const {width, height, channels, data} = image;
  let inked = 0, sum = 0, sumSq = 0;
  const colours = new Set();
  for (let i = 0; i < width * height; ++i) {
    const r = data[i * channels], g = data[i * channels + 1], b = data[i * channels + 2];
    const lum = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    sum += lum;
    sumSq += lum * lum;
    if (r < 235 || g < 235 || b < 235) ++inked;
    colours.add(((r >> 4) << 8) | ((g >> 4) << 4) | (b >> 4));
  }
  const n = width * height;
  const mean = sum / n;
  return {inkedShare: inked / n, variance: sumSq / n - mean * mean, distinctColours: colours.size};
}
