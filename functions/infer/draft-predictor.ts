import { InputLookupTokenPredictor, type Token } from "node-llama-cpp";

/**
 * Prompt-lookup drafts for a sequence (node-llama-cpp's InputLookupTokenPredictor: the answer's last tokens are looked
 * up in the chunk's prompt and the tokens that followed them there are proposed), which node-llama-cpp checks against
 * the grammar and verifies in the same decode as the sampled token. Values the model copies from the chunk (names,
 * numbers, dates) then take one decode for several tokens.
 *
 * It also keeps greedy decoding's output unchanged under the repeat penalty. node-llama-cpp samples every verified
 * position with the same penalty list, the answer as it was before the decode; without drafts, the token at a position
 * would be sampled with every token before it penalised, drafts included. The engine's penalty list therefore adds
 * the drafts that precede the position being sampled (`penaltyExtra`): node-llama-cpp asks for the list once per
 * sampled position, in order, after asking this predictor for the decode's drafts.
 */
export class DraftPredictor extends InputLookupTokenPredictor {
  private drafts: Token[] = [];
  private sampledThisDecode = 0;
  /** Draft tokens proposed so far (before the grammar check, which may cut a draft short). */
  proposed = 0;

  constructor() {
    // Drafts of up to 8 tokens after a match of at least 2: one-token matches (a quote, a space) propose noise.
    super({ patternLength: { min: 2 }, predictionLength: { min: 1, max: 8 } });
  }

  override predictTokens(): Token[] {
    const drafts = super.predictTokens();
    this.drafts = drafts;
    this.sampledThisDecode = 0;
    this.proposed += drafts.length;
    return drafts;
  }

  /** The drafts before the position node-llama-cpp samples now; call once per penalty list it asks for. */
  penaltyExtra(): Token[] {
    const extra = this.drafts.slice(0, this.sampledThisDecode);
    this.sampledThisDecode++;
    return extra;
  }
}
