import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import type {
  AlertCode,
  AlertListResponse,
  Device,
  DeviceType,
  SessionAlert,
  SessionEntry,
  SessionListResponse,
  SessionLocation,
} from '../../http/contract';
import { everyMember } from '../../common/every-member';

const DEVICE_TYPES = everyMember<DeviceType>()(['desktop', 'mobile', 'tablet', 'bot', 'unknown']);

export class DeviceDto implements Device {
  @ApiProperty({ type: String, nullable: true, example: 'Chrome 120' })
  browser!: string | null;

  @ApiProperty({ type: String, nullable: true, example: 'macOS 10.15.7' })
  os!: string | null;

  @ApiProperty({ enum: DEVICE_TYPES })
  type!: DeviceType;
}

export class LocationDto implements SessionLocation {
  @ApiProperty({ description: 'ISO 3166-1 alpha-2 code', example: 'GB' })
  country!: string;

  @ApiProperty({ example: 'United Kingdom' })
  countryName!: string;

  @ApiPropertyOptional({ example: 'England' })
  region?: string;

  @ApiPropertyOptional({ example: 'London' })
  city?: string;
}

export class SessionEntryDto implements SessionEntry {
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

export class SessionListDto implements SessionListResponse {
  @ApiProperty({ type: [SessionEntryDto], description: 'Most recent activity first' })
  sessions!: SessionEntryDto[];
}

const ALERT_CODES = everyMember<AlertCode>()([
  'TOO_MANY_SESSIONS',
  'MANY_IP_ADDRESSES',
  'IP_ADDRESS_CHANGED',
  'USER_AGENT_CHANGED',
  'NEW_COUNTRY',
]);

export class AlertDto implements SessionAlert {
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

export class AlertListDto implements AlertListResponse {
  @ApiProperty({ type: [AlertDto] })
  alerts!: AlertDto[];
}
