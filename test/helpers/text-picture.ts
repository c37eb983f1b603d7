import { createCanvas } from "@napi-rs/canvas";

/** A PNG picture of one line of black text on white (a letterhead or a logo with words), for OCR tests. */
export function textPicturePng(text: string, { width = 600, height = 150 }: { width?: number; height?: number } = {}): Buffer {
  const canvas = createCanvas(width, height);
  const context = canvas.getContext("2d");
  context.fillStyle = "white";
  context.fillRect(0, 0, width, height);
  context.fillStyle = "black";
  context.font = "bold 44px sans-serif";
  context.fillText(text, 20, 95);
  return canvas.toBuffer("image/png");
}
