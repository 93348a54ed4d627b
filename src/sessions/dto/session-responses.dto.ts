import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { AlertCode } from '../session-alerts';

export class DeviceDto {
  @ApiProperty({ type: String, nullable: true, example: 'Chrome 120' })
  browser!: string | null;

  @ApiProperty({ type: String, nullable: true, example: 'macOS 10.15.7' })
  os!: string | null;

  @ApiProperty({ enum: ['desktop', 'mobile', 'tablet', 'bot', 'unknown'] })
  type!: string;
}

export class LocationDto {
  @ApiProperty({ description: 'ISO 3166-1 alpha-2 code', example: 'GB' })
  country!: string;

  @ApiProperty({ example: 'United Kingdom' })
  countryName!: string;

  @ApiPropertyOptional({ example: 'England' })
  region?: string;

  @ApiPropertyOptional({ example: 'London' })
  city?: string;
}

export class SessionEntryDto {
  @ApiProperty()
  id!: string;

  @ApiProperty({ description: 'True for the session making this request' })
  current!: boolean;

  @ApiProperty({ type: DeviceDto })
  device!: DeviceDto;

  @ApiProperty({
    type: LocationDto,
    nullable: true,
    description: 'Null when unknown (private address, GeoIP off)',
  })
  location!: LocationDto | null;

  @ApiProperty()
  userAgent!: string;

  @ApiProperty()
  ipAddress!: string;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time' })
  lastActivity!: string;

  @ApiProperty({ format: 'date-time' })
  expiresAt!: string;
}

export class SessionListDto {
  @ApiProperty({ type: [SessionEntryDto], description: 'Most recent activity first' })
  sessions!: SessionEntryDto[];
}

const ALERT_CODES: AlertCode[] = [
  'TOO_MANY_SESSIONS',
  'MANY_IP_ADDRESSES',
  'IP_ADDRESS_CHANGED',
  'USER_AGENT_CHANGED',
  'NEW_COUNTRY',
];

export class AlertDto {
  @ApiProperty({ enum: ALERT_CODES })
  code!: AlertCode;

  @ApiProperty()
  message!: string;

  @ApiPropertyOptional({ description: 'The session the alert is about' })
  sessionId?: string;

  @ApiPropertyOptional({ description: 'Sessions or addresses counted' })
  count?: number;

  @ApiPropertyOptional({ description: 'Country of a NEW_COUNTRY alert' })
  country?: string;
}

export class AlertListDto {
  @ApiProperty({ type: [AlertDto] })
  alerts!: AlertDto[];
}
