import { createClient, type TokenSource } from '@ai-chat/client';

const DOCTOR_PROMPT = `You are Dr. AI, a medical assistant. Gather symptoms and history, ask clarifying questions,
give general health information (not medical advice), and always recommend a real doctor for serious symptoms.`;

/** The integration guide's DoctorAIAssistant, on the client library: no fetch, no polling loops. */
export class DoctorAIAssistant {
  private readonly api;
  constructor(baseUrl: string, token: TokenSource) {
    this.api = createClient({ baseUrl, token });
  }

  async createConsultation(patientName: string) {
    const session = await this.api.sessions.create({ name: `Consultation - ${patientName}`, system_prompt: DOCTOR_PROMPT });
    return session.session_id;
  }

  async sendPatientMessage(sessionId: string, message: string, onText?: (text: string) => void) {
    const ask = await this.api.ask(sessionId, { message });
    if (!onText) return ask.wait();
    const stream = ask.stream();
    for await (const text of stream) onText(text);
    return stream.final;
  }

  async analyzeSymptoms(sessionId: string, symptoms: string) {
    const task = await this.api.tasks.create(sessionId, {
      task: `Analyze these symptoms: ${symptoms}. Answer as JSON with risk_level, follow_up_actions, monitor_symptoms, specialist_referrals.`,
      system_prompt: 'You are a medical data analyst. Always recommend professional consultation for concerning findings.',
    });
    return (await task.wait()).result_json;
  }

  getConversationHistory = (sessionId: string) => this.api.messages.list(sessionId, { order: 'asc', limit: 100 });
  endConsultation = (sessionId: string) => this.api.sessions.end(sessionId);
}
